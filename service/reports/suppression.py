"""Small-cell suppression of the compliance report's tables (pure: counts in, hidden cells out).

A *cell* is one figure about a set of people: its ``n`` is the size of that set (a group's
rows for a selection rate, its labelled positives for a TPR, …). Two rules, applied in order:

1. **Threshold (primary).** A cell with 0 < n < ``min_cell`` is hidden: value, interval and n.
   A cell about nobody (n = 0) says nothing about anyone and stays.
2. **Complementary.** Tables hold linear relations ``total = part_1 + … + part_k`` between the
   n's of published cells (the groups of an attribute add up to the period's rows; the
   intersection cells ``F|18-34``, ``F|35-64`` … add up to the marginal group ``F``; the
   groups' TPR denominators add up to the overall recall's). A relation with exactly one
   hidden member gives it away by subtraction. So while some relation has exactly one hidden
   member, the smallest published part of it is hidden too (or, with no part left, its
   total). Each step hides one more cell and there are finitely many, so it stops; at the
   end every relation has none or at least two hidden members.

What this does not protect (docs/reports.md): a published group whose rate is 0 or 1 says
that all of its ≥ ``min_cell`` members had the same outcome (the threshold rule's known limit),
and relations the report does not state (e.g. counts published elsewhere).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

Key = Hashable


@dataclass(frozen=True, slots=True)
class Relation:
    """n(total) = Σ n(parts); a total of None is not published (never a give-away)."""

    total: Key | None
    parts: tuple[Key, ...]


def primary(counts: Mapping[Key, int], min_cell: int) -> set[Key]:
    """Cells about at least one and fewer than ``min_cell`` people."""
    return {key for key, n in counts.items() if 0 < n < min_cell}


def _members(relation: Relation) -> tuple[Key, ...]:
    return relation.parts if relation.total is None else (*relation.parts, relation.total)


def _exposed(relation: Relation, hidden: set[Key], counts: Mapping[Key, int]) -> bool:
    """One hidden member and every other member known: an unpublished total (None, or absent
    from ``counts``) is unknown, so it protects like a hidden cell."""
    members = _members(relation)
    unknown = sum(1 for m in members if m in hidden or m not in counts) + (relation.total is None)
    return unknown == 1 and any(m in hidden for m in members)


def _complement(relation: Relation, hidden: set[Key], counts: Mapping[Key, int]) -> Key:
    """The smallest published part (ties by key text), else the total."""
    shown = [p for p in relation.parts if p not in hidden and p in counts]
    if shown:
        return min(shown, key=lambda p: (counts[p], repr(p)))
    assert relation.total is not None  # _exposed needs a published total when no part is shown
    return relation.total


def _hide(key: Key, hidden: set[Key], together: Mapping[Key, Sequence[Key]]) -> None:
    hidden.add(key)
    hidden.update(together.get(key, ()))


def suppress(
    counts: Mapping[Key, int],
    relations: Sequence[Relation],
    min_cell: int,
    together: Mapping[Key, Sequence[Key]] | None = None,
) -> frozenset[Key]:
    """The cells to hide: the primary ones, then complements until no relation exposes one.
    ``together``: a hidden key hides these too (a group's row goes with its size); relations
    are visited in the order given, so list those whose complements hide most first."""
    follow = together or {}
    hidden: set[Key] = set()
    for key in primary(counts, min_cell):
        _hide(key, hidden, follow)
    changed = True
    while changed:
        changed = False
        for relation in relations:
            if _exposed(relation, hidden, counts):
                _hide(_complement(relation, hidden, counts), hidden, follow)
                changed = True
    return frozenset(hidden)
