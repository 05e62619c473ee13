"""Probe-side modules copied beside the sandbox child and preloaded as grader_kit_<name>:
standard library (and torch, imported lazily) only, since a probe loads alone by path."""
