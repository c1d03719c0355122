from __future__ import annotations

import itertools

import pytest

from infralab.waiting import DeadlineExceededError, wait_until

pytestmark = pytest.mark.unit


def test_returns_the_first_truthy_value_with_elapsed_time() -> None:
    counter = itertools.count()
    waited = wait_until(lambda: n if (n := next(counter)) >= 3 else None, timeout=5, interval=0.01, what="count")
    assert waited.value == 3
    assert 0 <= waited.elapsed < 5


def test_probe_errors_count_as_not_yet_and_are_reported() -> None:
    def probe() -> None:
        raise ConnectionError("service down")

    with pytest.raises(DeadlineExceededError, match=r"core up: not within 0s \(last error: ConnectionError"):
        wait_until(probe, timeout=0.2, interval=0.05, what="core up")


def test_deadline_reports_the_last_value() -> None:
    with pytest.raises(DeadlineExceededError, match="last value: 0"):
        wait_until(lambda: 0, timeout=0.1, interval=0.02, what="zero")
