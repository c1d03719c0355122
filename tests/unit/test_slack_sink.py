"""The Slack stand-in, run for real on an ephemeral port."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from infralab.alerts import SlackMessage

pytestmark = pytest.mark.unit

_spec = importlib.util.spec_from_file_location(
    "slack_sink", Path(__file__).resolve().parents[2] / "monitoring" / "slack-sink" / "slack_sink.py"
)
assert _spec
assert _spec.loader
slack_sink = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slack_sink)

ALERT = {
    "channel": "#lab-critical",
    "attachments": [{"title": "[FIRING:1] CoreServerDown (core-server)", "text": "*CRITICAL* core-server is down"}],
}


@pytest.fixture
def sink() -> Iterator[httpx.Client]:
    slack_sink.STORE = slack_sink.Store()  # each test starts from a fresh stand-in
    server = ThreadingHTTPServer(("127.0.0.1", 0), slack_sink.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}") as client:
        yield client
    server.shutdown()


def test_records_payloads_and_answers_like_slack(sink: httpx.Client) -> None:
    response = sink.post("/services/infra-lab", json=ALERT)
    assert (response.status_code, response.text) == (200, "ok")
    [record] = sink.get("/messages").json()
    assert record["path"] == "/services/infra-lab"
    message = SlackMessage.from_record(record)
    assert (message.status, message.alertname, message.service, message.channel) == (
        "firing",
        "CoreServerDown",
        "core-server",
        "#lab-critical",
    )


def test_since_returns_only_newer_messages(sink: httpx.Client) -> None:
    for _ in range(3):
        sink.post("/x", json=ALERT)
    first, second, third = (m["seq"] for m in sink.get("/messages").json())
    assert [m["seq"] for m in sink.get("/messages", params={"since": first}).json()] == [second, third]
    assert first < second < third


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]"])
def test_rejects_what_slack_would_reject(sink: httpx.Client, body: bytes) -> None:
    assert sink.post("/x", content=body).status_code == 400
    assert sink.get("/messages").json() == []


def test_bad_since_is_a_clear_400(sink: httpx.Client) -> None:
    response = sink.get("/messages", params={"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()["message"]


def test_delete_forgets_everything_but_keeps_cursors_valid(sink: httpx.Client) -> None:
    sink.post("/x", json=ALERT)
    assert sink.delete("/messages").status_code == 200
    assert sink.get("/messages").json() == []
    sink.post("/x", json=ALERT)
    # Sequence numbers never restart, so a reader's cursor cannot skip new messages.
    assert sink.get("/messages").json()[0]["seq"] == 2


def test_resolved_title_parses() -> None:
    record = {
        "seq": 1,
        "received_at": "t",
        "payload": {"channel": "#c", "attachments": [{"title": "[RESOLVED] CoreServerDown (core-server)", "text": ""}]},
    }
    message = SlackMessage.from_record(record)
    assert (message.status, message.alertname) == ("resolved", "CoreServerDown")
