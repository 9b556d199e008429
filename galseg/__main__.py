"""``python -m galseg`` is the ``galseg`` command."""

import sys

from .cli import main

sys.exit(main())
