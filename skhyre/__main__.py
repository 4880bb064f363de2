"""``python -m skhyre``: the same as the ``skhyre`` console script."""

import sys

from .cli import main

sys.exit(main())
