"""Running untrusted code: the parent side (runner.py), the child script it copies and runs
(child.py), the confinement (isolation.py: uid, Landlock, mounts, rlimits), the uid slots,
process helpers, the from-scratch guard and the probe-side kits (kits/) a probe imports."""
