"""Sandbox probes: loaded by path inside a sandbox child, never imported by the grader."""
