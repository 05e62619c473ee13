"""The rubric: rubric.toml read into frozen records (spec.py) and the call budgets derived
from the reference's recorded costs (budgets.py)."""
