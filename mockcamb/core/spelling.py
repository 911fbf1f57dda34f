"""Near misses: the known word a typo most likely meant ("did you mean SUCCESS?")."""

from __future__ import annotations

from collections.abc import Iterable

#: The most edits (insert, delete, substitute, swap two neighbours) a near miss may need.
MAX_EDITS = 2


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): the fewest single-character
    insertions, deletions, substitutions or swaps of two neighbours that turn ``a`` into ``b``."""
    if a == b:
        return 0
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (ca != cb),
            )
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[-1]


def closest(word: str, known: Iterable[str], max_edits: int = MAX_EDITS) -> str | None:
    """The known word ``word`` most likely misspells: one that differs only in case, else the
    nearest within ``max_edits`` edits ignoring case (the first listed on a tie). ``None``
    when ``word`` is itself known or nothing is near enough."""
    choices = list(known)
    if word in choices or len(word) > 200:
        return None
    folded = word.casefold()
    best: str | None = None
    best_distance = max_edits + 1
    for choice in choices:
        distance = edit_distance(folded, choice.casefold())
        if distance < best_distance:
            best, best_distance = choice, distance
    return best


__all__ = ["MAX_EDITS", "closest", "edit_distance"]
