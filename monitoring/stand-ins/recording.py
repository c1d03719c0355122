"""What the lab's stand-ins share: a bounded in-memory record, JSON logs, a small JSON HTTP server.

A stand-in plays an external service (Slack's webhook, Sentry's ingest) inside the lab and
keeps what it received, so the suite can assert on exactly what would have been sent:

  GET    /records?since=<seq>  what was received, oldest first: [{"seq", "received_at", "path", ...}]
  DELETE /records              forget it (sequence numbers never restart, so cursors stay valid)
  GET    /health               liveness
Standard library only, so it runs on the official Python image and on Debian's python3 alike.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_BODY_BYTES = 1 << 20
# Bounded, so a flapping alert or an error storm cannot grow a stand-in without limit.
MAX_RECORDS = int(os.environ.get("STAND_IN_MAX_RECORDS", "5000"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the lab's log field names."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": now(), "level": record.levelname.lower(), "service": self.service, "msg": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        return json.dumps(line)


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._seq = 0

    def add(self, path: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "received_at": now(), "path": path, **fields}
            self._records.append(entry)
            del self._records[:-MAX_RECORDS]
            return entry

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self._records if r["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class RecordingHandler(BaseHTTPRequestHandler):
    """Serves /health and /records; subclasses implement do_POST for what they stand in for."""

    service = "stand-in"
    store: Store  # each stand-in keeps its own
    sys_version = ""

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(self.service)

    def reply(self, status: int, body: object, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes | None:
        """The request body, or None (after answering 400) when it is missing or too large."""
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            self.reply(400, {"error": "bad_request", "message": f"body must be 1..{MAX_BODY_BYTES} bytes"})
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/health":
            self.reply(200, {"status": "UP", "service": self.service})
        elif url.path == "/records":
            raw = parse_qs(url.query).get("since", ["0"])[0]
            if not raw.isdigit():
                self.reply(400, {"error": "bad_request", "message": "since must be a non-negative integer"})
                return
            self.reply(200, self.store.since(int(raw)))
        else:
            self.reply(404, {"error": "not_found", "message": f"no such path: {url.path}"})

    def do_DELETE(self) -> None:
        if urlparse(self.path).path != "/records":
            self.reply(404, {"error": "not_found", "message": "only /records can be deleted"})
            return
        self.store.clear()
        self.log.info("records cleared")
        self.reply(200, {"cleared": True})

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # Access lines are noise here; what was received is logged by each stand-in.
        return


def serve(handler: type[RecordingHandler]) -> None:
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(JsonLogFormatter(handler.service))
    logging.basicConfig(level=logging.INFO, handlers=[out])
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    logging.getLogger(handler.service).info("listening", extra={"fields": {"port": port}})
    server.serve_forever()
