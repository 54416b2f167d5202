"""`python -m extract`: see extract/cli.py."""

import sys

from extract.cli import main

if __name__ == "__main__":
    sys.exit(main())
