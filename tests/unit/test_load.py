"""The drills' background loads stay bounded and stop with their `with` block."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from infralab.load import ATTEMPTS, ConcurrentGets, SteadyLoad, retried_on_closed_connection
from infralab.waiting import wait_until

pytestmark = pytest.mark.unit


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5) as http:
        yield http
    server.shutdown()


def test_concurrent_gets_stop_at_their_limit(client: httpx.Client) -> None:
    with ConcurrentGets(client, "/ok", workers=3, limit=40) as load:
        wait_until(lambda: len(load.statuses) >= 40, timeout=30, interval=0.05, what="40 calls")
    # Each worker checks the limit before its call: at most one call per worker past it.
    assert 40 <= len(load.statuses) <= 42
    assert set(load.statuses) == {200}


def test_concurrent_gets_stop_when_the_block_ends(client: httpx.Client) -> None:
    with ConcurrentGets(client, "/busy", workers=2, limit=100_000) as load:
        wait_until(lambda: len(load.statuses) >= 10, timeout=30, interval=0.05, what="10 calls")
    after_exit = len(load.statuses)
    assert not any(thread.is_alive() for thread in load._threads)
    assert len(load.statuses) == after_exit < 100_000
    assert set(load.statuses) == {503}


def test_a_steady_load_keeps_its_schedule_and_every_answer(client: httpx.Client) -> None:
    with SteadyLoad(client, [("GET", "/ok"), ("GET", "/busy")], rate=100, threads=4, limit=60) as load:
        wait_until(lambda: len(load.answers) >= 60, timeout=30, interval=0.05, what="60 calls")
    assert len(load.answers) == 60
    assert [status for _, _, status in load.failed] == [503] * 30
    assert load.achieved_rate <= 110  # the schedule, not as fast as the server answers
    assert "30 failed of 60 requests" in load.summary()


def test_a_steady_load_is_idempotent_requests_only(client: httpx.Client) -> None:
    with pytest.raises(ValueError, match="idempotent requests only"):
        SteadyLoad(client, [("POST", "/ok")])


def test_a_request_on_a_closed_connection_is_sent_again_a_bounded_number_of_times() -> None:
    def closing(times: int) -> Callable[[], int]:
        calls: list[int] = []

        def call() -> int:
            calls.append(1)
            if len(calls) <= times:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            return 200

        return call

    assert retried_on_closed_connection(lambda: 201) == (201, 0)
    assert retried_on_closed_connection(closing(1)) == (200, 1)
    # Two stale connections in the pool after back-to-back reloads: still answered.
    assert retried_on_closed_connection(closing(ATTEMPTS - 1)) == (200, ATTEMPTS - 1)
    with pytest.raises(httpx.RemoteProtocolError):  # a server that never answers fails, boundedly
        retried_on_closed_connection(closing(ATTEMPTS))

    def refused() -> int:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(httpx.ConnectError):  # nginx gone is a failure, never retried
        retried_on_closed_connection(refused)
