"""`python -m grader ...`: see grader/cli.py."""
import sys

from .core.cli import main

sys.exit(main())
