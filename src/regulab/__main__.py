"""``python -m regulab``: the ``regulab`` command."""

import sys

from regulab.cli import main

sys.exit(main())
