"""`python -m minigapt ...` runs the command-line interface (minigapt/cli.py)."""
import sys

from .cli import main

sys.exit(main())
