"""``python -m routerfix``: the ``routerfix`` command."""

import sys

from routerfix.cli import main

sys.exit(main())
