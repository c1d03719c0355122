"""Slack incoming-webhook stand-in for the lab's tests.

Accepts what Alertmanager's slack_configs send (POST JSON to any path), answers like
Slack ("ok"), and keeps every payload in memory so the suite can read back exactly
what would have reached Slack. Standard library only: it runs on the official Python
image and on Debian's python3 alike.

  POST /<any path>      record a payload (JSON object), answer 200 "ok"
  GET  /messages        recorded payloads, oldest first: [{"seq", "received_at", "path", "payload"}]
                        (?since=<seq> returns only newer ones)
  DELETE /messages      forget everything recorded
  GET  /health          liveness
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MAX_BODY_BYTES = 1 << 20
# Bounded so a flapping alert cannot grow the stand-in without limit.
MAX_MESSAGES = int(os.environ.get("SLACK_SINK_MAX_MESSAGES", "5000"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the lab's log field names."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": _now(), "level": record.levelname.lower(), "service": "slack-sink", "msg": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        return json.dumps(line)


log = logging.getLogger("slack-sink")


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict] = []
        self._seq = 0

    def add(self, path: str, payload: dict) -> dict:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "received_at": _now(), "path": path, "payload": payload}
            self._messages.append(entry)
            del self._messages[:-MAX_MESSAGES]
            return entry

    def since(self, seq: int) -> list[dict]:
        with self._lock:
            return [m for m in self._messages if m["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    server_version = "slack-sink"
    sys_version = ""

    def _reply(self, status: int, body: object, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/health":
            self._reply(200, {"status": "UP", "service": "slack-sink"})
        elif url.path == "/messages":
            raw = parse_qs(url.query).get("since", ["0"])[0]
            if not raw.isdigit():
                self._reply(400, {"error": "bad_request", "message": "since must be a non-negative integer"})
                return
            self._reply(200, STORE.since(int(raw)))
        else:
            self._reply(404, {"error": "not_found", "message": f"no such path: {url.path}"})

    def do_DELETE(self) -> None:
        if urlparse(self.path).path != "/messages":
            self._reply(404, {"error": "not_found", "message": "only /messages can be deleted"})
            return
        STORE.clear()
        log.info("messages cleared")
        self._reply(200, {"cleared": True})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            self._reply(400, "invalid_payload", "text/plain")
            return
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            self._reply(400, "invalid_payload", "text/plain")
            return
        if not isinstance(payload, dict):
            self._reply(400, "invalid_payload", "text/plain")
            return
        entry = STORE.add(urlparse(self.path).path, payload)
        log.info(
            "payload received",
            extra={
                "fields": {
                    "seq": entry["seq"],
                    "channel": payload.get("channel"),
                    "text": (payload.get("text") or "")[:200],
                }
            },
        )
        # Slack answers a plain-text "ok".
        self._reply(200, "ok", "text/plain")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # Access lines are noise here; payloads are logged above.
        return


def main() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    log.info("listening", extra={"fields": {"port": port}})
    server.serve_forever()


if __name__ == "__main__":
    main()
