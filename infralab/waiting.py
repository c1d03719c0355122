"""Wait on a condition until a deadline: the suite never sleeps in place of a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class DeadlineExceededError(AssertionError):
    """The condition did not hold before the deadline (an SLO miss, in a drill)."""


@dataclass(frozen=True)
class Waited(Generic[T]):
    value: T
    elapsed: float  # seconds from the start of the wait until the condition held


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str,
) -> Waited[T]:
    """Call `probe` until it returns a truthy value, at most `timeout` seconds.

    Exceptions from the probe count as "not yet" (a service being down is often the very
    state being waited out); the last one is reported if the deadline passes.
    """
    start = time.monotonic()
    deadline = start + timeout
    last_error: Exception | None = None
    last_value: object = None
    while True:
        try:
            value = probe()
            if value:
                return Waited(value, time.monotonic() - start)
            last_value = value
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last_error = exc
        now = time.monotonic()
        if now >= deadline:
            detail = f"last error: {last_error!r}" if last_error else f"last value: {last_value!r}"
            raise DeadlineExceededError(f"{what}: not within {timeout:.0f}s ({detail})")
        time.sleep(min(interval, deadline - now))


def hold_for(check: Callable[[], None], *, duration: float, interval: float = 5.0) -> int:
    """Call `check` every `interval` seconds for `duration` seconds: the condition must hold
    throughout (an absence, such as "no alert fires"), so its first AssertionError ends the wait.
    Returns how many times it was checked."""
    deadline = time.monotonic() + duration
    checks = 0
    while True:
        check()
        checks += 1
        left = deadline - time.monotonic()
        if left <= 0:
            return checks
        time.sleep(min(interval, left))
