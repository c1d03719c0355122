"""Background job submissions while a drill runs: the traffic whose fate the drill checks."""

from __future__ import annotations

import threading
from typing import Self

import httpx

from infralab.jobs import Jobs


class _Background:
    """Threads that run `_run` from entering the `with` block until leaving it (stop flag,
    bounded join: a stuck call cannot hang the drill's teardown)."""

    def __init__(self, name: str, threads: int = 1) -> None:
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(threads)]

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


class JobLoad(_Background):
    """Submits one job every `interval` seconds in the background while a drill runs.

    Bounded (at most `limit` jobs) so a drill that hangs cannot flood the lab. Refusals
    (a 5xx while core-server is down, for instance) are counted, not raised.
    """

    def __init__(self, jobs: Jobs, *, label: str, interval: float = 0.5, limit: int = 600) -> None:
        self.jobs, self.label, self.interval, self.limit = jobs, label, interval, limit
        self.accepted: list[str] = []
        self.refused: list[str] = []
        super().__init__(f"job-load-{label}")

    def _run(self) -> None:
        n = 0
        while n < self.limit and not self._stop.wait(self.interval):
            try:
                self.accepted.append(self.jobs.submit({"item": f"{self.label}-{n}"}))
            except (AssertionError, httpx.HTTPError) as exc:
                self.refused.append(str(exc))
            n += 1


class ConcurrentGets(_Background):
    """`workers` clients each calling `path` back to back while a drill runs: enough
    concurrency to exhaust a small connection pool. Bounded by `limit` calls in all."""

    def __init__(self, client: httpx.Client, path: str, *, workers: int = 12, limit: int = 5000) -> None:
        self.client, self.path, self.limit = client, path, limit
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        super().__init__(f"gets-{path}", threads=workers)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if len(self.statuses) >= self.limit:
                    return
            try:
                status = self.client.get(self.path).status_code
            except httpx.HTTPError:
                status = 0  # no answer at all (timeout, reset)
            with self._lock:
                self.statuses.append(status)
