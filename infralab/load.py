"""Background job submissions while a drill runs: the traffic whose fate the drill checks."""

from __future__ import annotations

import threading

import httpx

from infralab.jobs import Jobs


class JobLoad:
    """Submits one job every `interval` seconds in the background while a drill runs.

    Bounded (at most `limit` jobs) so a drill that hangs cannot flood the lab. Refusals
    (a 5xx while core-server is down, for instance) are counted, not raised.
    """

    def __init__(self, jobs: Jobs, *, label: str, interval: float = 0.5, limit: int = 600) -> None:
        self.jobs, self.label, self.interval, self.limit = jobs, label, interval, limit
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-load-{label}", daemon=True)

    def _run(self) -> None:
        n = 0
        while n < self.limit and not self._stop.wait(self.interval):
            try:
                self.accepted.append(self.jobs.submit({"item": f"{self.label}-{n}"}))
            except (AssertionError, httpx.HTTPError) as exc:
                self.refused.append(str(exc))
            n += 1

    def __enter__(self) -> JobLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class ConcurrentGets:
    """`workers` clients each calling `path` back to back while a drill runs: enough
    concurrency to exhaust a small connection pool. Bounded by `limit` calls in all."""

    def __init__(self, client: httpx.Client, path: str, *, workers: int = 12, limit: int = 5000) -> None:
        self.client, self.path, self.limit = client, path, limit
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

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

    def __enter__(self) -> ConcurrentGets:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
