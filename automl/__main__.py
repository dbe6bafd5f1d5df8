"""``python -m automl``: the same as the ``automl`` command."""

import sys

from automl.cli import main

if __name__ == "__main__":
    sys.exit(main())
