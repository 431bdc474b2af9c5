"""``python -m hpsearch``: the command line."""

import sys

from hpsearch.cli import main

sys.exit(main())
