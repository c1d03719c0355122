"""The Slack and Sentry stand-ins, run for real on ephemeral ports."""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import sentry_sdk

from infralab.alerts import SlackMessage, SlackSink
from infralab.sentry import SentryEvent, SentrySink

pytestmark = pytest.mark.unit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "monitoring" / "stand-ins"))
import recording  # noqa: E402
import sentry_sink  # noqa: E402
import slack_sink  # noqa: E402

ALERT = {
    "channel": "#lab-critical",
    "attachments": [{"title": "[FIRING:1] CoreServerDown (core-server)", "text": "*CRITICAL* core-server is down"}],
}

Start = Callable[[type[recording.RecordingHandler]], httpx.Client]


@pytest.fixture
def start() -> Iterator[Start]:
    servers: list[ThreadingHTTPServer] = []

    def run(handler: type[recording.RecordingHandler]) -> httpx.Client:
        handler.store = recording.Store()  # each test starts from a fresh stand-in
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}", timeout=5)

    yield run
    for server in servers:
        server.shutdown()


def test_slack_payloads_are_recorded_and_answered_like_slack(start: Start) -> None:
    client = start(slack_sink.SlackHandler)
    response = client.post("/services/infra-lab", json=ALERT)
    assert (response.status_code, response.text) == (200, "ok")
    [message] = SlackSink(client, prefix="").messages()
    assert (message.status, message.alertname, message.service, message.channel) == (
        "firing",
        "CoreServerDown",
        "core-server",
        "#lab-critical",
    )


def test_since_returns_only_newer_records(start: Start) -> None:
    client = start(slack_sink.SlackHandler)
    for _ in range(3):
        client.post("/x", json=ALERT)
    first, second, third = (m["seq"] for m in client.get("/records").json())
    assert [m["seq"] for m in client.get("/records", params={"since": first}).json()] == [second, third]


def _alert(status: str, alertname: str, service: str) -> dict[str, object]:
    title = f"[{status}] {alertname} ({service})"
    return {"channel": "#lab-warning", "attachments": [{"title": title, "text": ""}]}


def test_a_group_is_unresolved_until_its_resolved_message_arrives(start: Start) -> None:
    client = start(slack_sink.SlackHandler)
    sink = SlackSink(client, prefix="")
    client.post("/x", json=_alert("FIRING:1", "Watchdog", "prometheus"))
    client.post("/x", json=_alert("FIRING:2", "CoreReplicaDown", "core-server"))
    client.post("/x", json=_alert("FIRING:1", "HighErrorRatio", "worker-server"))
    assert sink.unresolved() == {("CoreReplicaDown", "core-server"), ("HighErrorRatio", "worker-server")}
    client.post("/x", json=_alert("FIRING:1", "CoreReplicaDown", "core-server"))
    client.post("/x", json=_alert("RESOLVED", "HighErrorRatio", "worker-server"))
    assert sink.unresolved() == {("CoreReplicaDown", "core-server")}
    client.post("/x", json=_alert("RESOLVED", "CoreReplicaDown", "core-server"))
    assert sink.unresolved() == set()


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]"])
def test_slack_rejects_what_slack_would_reject(start: Start, body: bytes) -> None:
    client = start(slack_sink.SlackHandler)
    assert client.post("/x", content=body).status_code == 400
    assert client.get("/records").json() == []


def test_bad_since_is_a_clear_400(start: Start) -> None:
    response = start(slack_sink.SlackHandler).get("/records", params={"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()["message"]


def test_delete_forgets_everything_but_keeps_cursors_valid(start: Start) -> None:
    client = start(slack_sink.SlackHandler)
    client.post("/x", json=ALERT)
    assert client.delete("/records").status_code == 200
    assert client.get("/records").json() == []
    client.post("/x", json=ALERT)
    # Sequence numbers never restart, so a reader's cursor cannot skip new records.
    assert client.get("/records").json()[0]["seq"] == 2


def test_resolved_title_parses() -> None:
    record = {
        "seq": 1,
        "received_at": "t",
        "payload": {"channel": "#c", "attachments": [{"title": "[RESOLVED] CoreServerDown (core-server)", "text": ""}]},
    }
    message = SlackMessage.from_record(record)
    assert (message.status, message.alertname) == ("resolved", "CoreServerDown")


def test_sentry_stand_in_records_an_event_from_the_real_python_sdk(start: Start) -> None:
    client = start(sentry_sink.SentryHandler)
    port = client.base_url.port
    sdk = sentry_sdk.Client(dsn=f"http://public@127.0.0.1:{port}/1", default_integrations=False)
    try:
        raise ValueError("disk full on /var/lib/core")
    except ValueError as exc:
        event_id = sdk.capture_event(*sentry_sdk.utils.event_from_exception(exc), scope=None)
    sdk.flush(timeout=5)
    events = SentrySink(client, prefix="").events()
    assert [e.event_id for e in events] == [event_id]
    event = events[0]
    assert (event.project, event.exception_types) == ("1", ("ValueError",))
    assert client.get("/records").json()[0]["sentry_key"] == "public"


def test_sentry_stand_in_accepts_gzip_envelopes_and_legacy_store(start: Start) -> None:
    client = start(sentry_sink.SentryHandler)
    event = {"event_id": "a" * 32, "level": "error", "message": "boom", "tags": [["request_id", "r-1"]]}
    envelope = b"\n".join(
        [
            json.dumps({"event_id": "a" * 32}).encode(),
            json.dumps({"type": "event"}).encode(),
            json.dumps(event).encode(),
        ]
    )
    assert client.post(
        "/api/2/envelope/", content=gzip.compress(envelope), headers={"Content-Encoding": "gzip"}
    ).json() == {"id": "a" * 32}
    assert client.post("/api/3/store/", json={**event, "event_id": "b" * 32}).status_code == 200
    parsed = [SentryEvent.from_record(r) for r in client.get("/records").json()]
    assert [(e.project, e.message, e.tags.get("request_id")) for e in parsed] == [
        ("2", "boom", "r-1"),
        ("3", "boom", "r-1"),
    ]


def test_both_exception_shapes_parse() -> None:
    wrapped = {"seq": 1, "event": {"exception": {"values": [{"type": "ValueError"}]}}}
    bare = {"seq": 2, "event": {"exception": [{"type": "*faults.BackendError"}]}}  # sentry-go's form
    assert SentryEvent.from_record(wrapped).exception_types == ("ValueError",)
    assert SentryEvent.from_record(bare).exception_types == ("*faults.BackendError",)


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/api/1/envelope/", {"Content-Encoding": "br"}, b"x", 415),
        ("/api/1/envelope/", {"Content-Encoding": "gzip"}, b"not gzip", 400),
        ("/api/not-a-number/envelope/", {}, b"{}", 404),
        ("/api/1/store/", {}, b"{not json", 400),
    ],
)
def test_sentry_stand_in_refuses_what_it_cannot_read(
    start: Start, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    client = start(sentry_sink.SentryHandler)
    assert client.post(path, content=body, headers=headers).status_code == status
    assert client.get("/records").json() == []
