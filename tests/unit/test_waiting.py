from __future__ import annotations

import itertools
import time

import pytest

from infralab.waiting import DeadlineExceededError, hold_for, wait_until

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


def test_hold_for_checks_through_the_whole_window() -> None:
    calls: list[float] = []
    started = time.monotonic()
    assert hold_for(lambda: calls.append(time.monotonic()), duration=0.3, interval=0.1) == len(calls)
    assert len(calls) >= 3
    assert time.monotonic() - started >= 0.3


def test_hold_for_stops_at_the_first_violation() -> None:
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        assert len(calls) < 2, "noise"

    with pytest.raises(AssertionError, match="noise"):
        hold_for(check, duration=5, interval=0.01)
    assert len(calls) == 2
