"""Probe-side modules copied beside the sandbox child and preloaded as grader_kit_<name>:
standard library only at import (numpy imported where needed, torch handed over by the
probe), since a probe loads alone by path."""
