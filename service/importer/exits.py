"""The exit codes of ``modelmon import`` (their meanings: ``command.py``'s docstring)."""

EXIT_DATA, EXIT_USAGE, EXIT_REFUSED, EXIT_GAVE_UP = 1, 2, 3, 4
# Refusals for the data's sake: the file must change before a re-run can succeed.
DATA_STATUSES = frozenset({400, 409, 413, 422})
