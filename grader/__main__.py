"""`python -m grader ...`: see grader/core/cli.py."""
import sys

from .core.cli import main

sys.exit(main())
