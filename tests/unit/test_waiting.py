"""tests.support.waiting: the polling every integration test waits with."""

from __future__ import annotations

import itertools

import pytest

from tests.support.waiting import wait_until


class Description:
    """A ``what`` that counts how often it was asked."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.asked = 0

    def __call__(self) -> str:
        self.asked += 1
        return self.text


def test_returns_the_first_true_answer_as_soon_as_it_comes():
    answers = iter([0, None, "", 3, 4])
    what = Description("a number")
    assert wait_until(lambda: next(answers), 5, what, interval=0.001) == 3
    assert next(answers) == 4  # asked no more than needed
    assert what.asked == 0  # described only on a timeout


def test_a_timeout_names_what_it_waited_for():
    polls = itertools.count()
    what = Description("the answer (log: nothing)")
    with pytest.raises(TimeoutError, match=r"waited 0.05s for the answer \(log: nothing\)"):
        wait_until(lambda: next(polls) < 0, 0.05, what, interval=0.01)
    assert what.asked == 1 and next(polls) >= 3
