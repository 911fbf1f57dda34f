"""Near misses: edit distance and the known word a typo meant."""

from __future__ import annotations

import pytest

from mockcamb.core.spelling import closest, edit_distance
from mockcamb.core.statuses import DOCUMENTED_STATUSES


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("SUCCESS", "SUCCESS", 0),
        ("SUCESS", "SUCCESS", 1),  # a deletion
        ("SUCCSES", "SUCCESS", 1),  # two neighbours swapped
        ("FAILD", "FAILED", 1),
        ("TIMED_OUT", "TIMEOUT", 2),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("ca", "abc", 3),  # optimal string alignment: no edit of a swapped pair
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("SUCESS", "SUCCESS"),
        ("success", "SUCCESS"),
        ("Pending", "PENDING"),
        ("PENDNG", "PENDING"),
        ("FAILD", "FAILED"),
        ("EROR", "ERROR"),
        ("TIME_OUT", "TIMEOUT"),
        ("PAYMENT-REQUIRED", "PAYMENT_REQUIRED"),
        ("SUCCESS", None),  # known words are no typo
        ("PROCESSING", None),
        ("CANCELLED", None),
        ("DUBBING", None),
        ("QUEUED", None),
        ("RUNNING", None),
        ("x" * 500, None),
    ],
)
def test_closest_status(word: str, meant: str | None) -> None:
    assert closest(word, DOCUMENTED_STATUSES) == meant


def test_a_case_change_beats_a_nearer_spelling() -> None:
    assert closest("ab", ["aB", "ab_"]) == "aB"
    assert closest("retry_afer", ["poll", "retry_after", "body"]) == "retry_after"
    assert closest("colour", ["color", "colours"]) == "color"  # ties go to the first listed
