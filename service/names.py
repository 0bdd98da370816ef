"""Names people read and compare: no invisible characters, one Unicode spelling. Pure.

A name holding U+202E (right-to-left override) shows "credit‮gnirocs" as "creditscoring"
in the UI, the audit log and an alert; U+200B (zero-width space) makes two names look alike
that compare different. Unicode categories Cc (controls: U+0000–U+001F, U+007F–U+009F) and
Cf (format: the bidi controls U+200E/F, U+202A–U+202E, U+2066–U+2069, zero-width U+200B–D,
U+FEFF …) are therefore refused in names, naming the code point.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})


def first_invisible(text: str) -> str | None:
    """``"U+202E (RIGHT-TO-LEFT OVERRIDE)"`` for the first Cc/Cf character, or None."""
    for character in text:
        if unicodedata.category(character) in INVISIBLE_CATEGORIES:
            name = unicodedata.name(character, "a control character")
            return f"U+{ord(character):04X} ({name})"
    return None


def refuse_invisible(text: str) -> str:
    """``text`` unchanged; ValueError naming the first control or format character."""
    found = first_invisible(text)
    if found is not None:
        raise ValueError(f"holds the invisible character {found}: no control or bidi characters in names")
    return text


def display_name(text: str) -> str:
    """A name shown to people (a key's name, a webhook's description): no control or bidi
    character, and stored in Unicode NFC, so two spellings of "é" are one name."""
    refuse_invisible(text)
    return text if text.isascii() else unicodedata.normalize("NFC", text)


DisplayName = Annotated[str, AfterValidator(display_name)]
