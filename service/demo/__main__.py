"""``python -m service.demo`` is ``modelmon demo``."""

import sys

from service.demo.command import main

sys.exit(main(sys.argv[1:]))
