"""``python -m routerfix.cli``."""

import sys

from routerfix.cli.app import main

sys.exit(main())
