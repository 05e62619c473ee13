"""Files handed to students as they are (python -m grader bundle copies them).

Nothing here may import the grader or hold a solution: selfcheck.py runs the public checks
on its own, next to the student's two_layernet.py, with numpy only.
"""
