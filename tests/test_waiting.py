"""`eventually`: the check's first truthy value, or an AssertionError naming what was awaited
(and what `detail` says then)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.waiting import eventually


def test_the_first_truthy_value_is_returned() -> None:
    answers: Iterator[object] = iter([None, 0, [], "up"])
    assert eventually(lambda: next(answers), 5, interval_s=0.001) == "up"


def test_a_check_that_never_holds_fails_naming_what_was_awaited() -> None:
    with pytest.raises(AssertionError, match=r"^the door open: not within 0\.05 s$"):
        eventually(lambda: False, 0.05, interval_s=0.01, awaited="the door open")


def test_detail_says_what_was_seen_when_time_is_up_and_only_then() -> None:
    asked: list[int] = []

    def detail() -> str:
        asked.append(1)
        return "still shut"

    assert eventually(lambda: True, detail=detail)
    assert asked == []
    with pytest.raises(AssertionError, match=r"^the door open: not within 0\.05 s\nstill shut$"):
        eventually(lambda: False, 0.05, interval_s=0.01, awaited="the door open", detail=detail)
    assert asked == [1]
