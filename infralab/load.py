"""Background job submissions while a drill runs: the traffic whose fate the drill checks."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Self, TypeVar

import httpx

from infralab.jobs import Jobs

T = TypeVar("T")


# One attempt per idle kept-alive connection a reload may have closed under the pool at once
# (two reloads a few milliseconds apart, as a rollback makes them), bounded.
ATTEMPTS = 3


def retried_on_closed_connection(call: Callable[[], T]) -> tuple[T, int]:
    """`call`'s result, and how many attempts it took beyond the first.

    nginx closes its idle keep-alive client connections at every graceful reload (each change of the
    rotation in a deploy). A request written onto such a connection just as it closes gets no answer
    at all, and HTTP/1.1 clients send it again when that is safe (RFC 9112 9.3.1; Go's net/http does
    so for every reused connection that fails this way): callers use this only for idempotent
    requests, or POSTs with an Idempotency-Key. A failure on the last attempt is raised.
    """
    again = 0
    while True:
        try:
            return call(), again
        # "Server disconnected without sending a response", or the reset of a socket closed with the request unread.
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            again += 1
            if again == ATTEMPTS:
                raise


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
        self.retried = 0
        self.run_id = uuid.uuid4().hex[:12]  # Idempotency-Keys live in the database: unique per load
        super().__init__(f"job-load-{label}")

    def _run(self) -> None:
        n = 0
        while n < self.limit and not self._stop.wait(self.interval):
            item = f"{self.label}-{n}-{self.run_id}"
            try:
                # The Idempotency-Key makes a second attempt safe: it returns the job the first one created.
                job, again = retried_on_closed_connection(partial(self.jobs.submit, {"item": item}, key=item))
                self.accepted.append(job)
                self.retried += again
            except (AssertionError, httpx.HTTPError) as exc:
                self.refused.append(f"{type(exc).__name__}: {exc}")
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


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class SteadyLoad(_Background):
    """`rate` requests per second on a fixed schedule, cycling through `requests` (method, path), spread
    over `threads` clients, for as long as the `with` block lasts (at most `limit` requests).

    Every answer is kept: a failed request is any non-2xx or no answer at all (status 0).
    """

    def __init__(
        self,
        client: httpx.Client,
        requests: list[tuple[str, str]],
        *,
        rate: float = 60,
        threads: int = 12,
        limit: int = 60_000,
    ) -> None:
        self.client, self.requests, self.rate, self.limit = client, requests, rate, limit
        if any(method not in IDEMPOTENT for method, _ in requests):
            raise ValueError("a steady load retries on a closed connection: idempotent requests only")
        self.answers: list[tuple[str, str, int]] = []
        self.retried = 0  # attempts beyond the first after nginx closed a kept-alive connection (a reload)
        self.errors: dict[str, int] = {}  # no answer at all, by exception
        self._lock = threading.Lock()
        self._count = itertools.count()
        self.started = self.ended = 0.0
        super().__init__("steady-load", threads=threads)

    def __enter__(self) -> Self:
        self.started = time.monotonic()
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.ended = time.monotonic()

    def _run(self) -> None:
        while True:
            n = next(self._count)
            if n >= self.limit:
                return
            # The n-th request is due at n / rate: a slow answer delays this thread, not the schedule.
            if self._stop.wait(max(0.0, self.started + n / self.rate - time.monotonic())):
                return
            method, path = self.requests[n % len(self.requests)]
            again, error = 0, ""
            try:
                response, again = retried_on_closed_connection(partial(self.client.request, method, path))
                status = response.status_code
            except httpx.HTTPError as exc:
                status, error = 0, type(exc).__name__
            with self._lock:
                self.answers.append((method, path, status))
                self.retried += again
                if error:
                    self.errors[error] = self.errors.get(error, 0) + 1

    @property
    def failed(self) -> list[tuple[str, str, int]]:
        return [a for a in self.answers if not 200 <= a[2] < 300]

    @property
    def achieved_rate(self) -> float:
        return len(self.answers) / max(self.ended - self.started, 1e-9)

    def summary(self) -> str:
        errors = f", no answer: {self.errors}" if self.errors else ""
        return (
            f"{len(self.failed)} failed of {len(self.answers)} requests "
            f"({self.achieved_rate:.0f}/s over {self.ended - self.started:.0f}s; "
            f"{self.retried} sent again after a reload closed the connection{errors})"
        )
