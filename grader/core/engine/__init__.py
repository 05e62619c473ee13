"""Grading one submission: the context suites judge through (context.py), the verdicts
(judge.py) and the pytest plugin that turns tests into rubric checks (plugin.py)."""
