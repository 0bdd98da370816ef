"""The states of an alert, one spelling for the table, the rules' callers, the API and the UI.

An alert is ``pending`` while its streak of alerting windows is shorter than the rule's
``for``, ``firing`` once it is long enough, and ``resolved`` after its clearing streak; a
first transition comes from ``none`` (no alert yet).
"""

from __future__ import annotations

from enum import StrEnum


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING)
NO_ALERT = "none"  # the ``from_state`` of an alert's first transition
