"""``python -m service`` is ``modelmon``."""

from service.cli import main

main()
