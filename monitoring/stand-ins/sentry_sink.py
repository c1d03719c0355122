"""Sentry ingest stand-in: records the events the services' Sentry SDKs send.

Point a DSN at it: http://<any key>@sentry-sink:8080/<project id>.
  POST /api/<project>/envelope/   an envelope (gzip/deflate accepted), decoded with the Sentry SDK's own parser
  POST /api/<project>/store/      a legacy JSON event
  (plus /records and /health from recording.py)
Each record: {"seq", "received_at", "path", "project", "sentry_key", "item_type", "event": {...}}.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any
from urllib.parse import parse_qs, urlparse

from recording import RecordingHandler, Store, serve
from sentry_sdk.envelope import Envelope

_ROUTE = re.compile(r"^/api/(?P<project>\d+)/(?P<kind>envelope|store)/?$")
_KEY = re.compile(r"sentry_key=(?P<key>[^,\s]+)")
_DECODERS = {"": lambda b: b, "identity": lambda b: b, "gzip": gzip.decompress, "deflate": zlib.decompress}


class SentryHandler(RecordingHandler):
    service = "sentry-sink"
    store = Store()

    def _sentry_key(self) -> str:
        match = _KEY.search(self.headers.get("X-Sentry-Auth", ""))
        if match:
            return match["key"]
        return parse_qs(urlparse(self.path).query).get("sentry_key", [""])[0]

    def _items(self, kind: str, body: bytes) -> list[tuple[str, dict[str, Any] | None]]:
        if kind == "store":
            return [("event", json.loads(body))]
        return [(item.headers.get("type", ""), item.payload.json) for item in Envelope.deserialize(body).items]

    def do_POST(self) -> None:  # noqa: N802
        route = _ROUTE.match(urlparse(self.path).path)
        if not route:
            self.reply(404, {"error": "not_found", "message": "expected /api/<project>/envelope/ or /store/"})
            return
        body = self.read_body()
        if body is None:
            return
        encoding = (self.headers.get("Content-Encoding") or "").strip().lower()
        if encoding not in _DECODERS:
            self.reply(415, {"error": "unsupported_encoding", "message": f"Content-Encoding {encoding!r}"})
            return
        try:
            items = self._items(route["kind"], _DECODERS[encoding](body))
        except (ValueError, OSError, zlib.error) as exc:
            self.reply(400, {"error": "bad_request", "message": f"cannot decode the {route['kind']}: {exc}"})
            return
        event_id = ""
        for item_type, event in items:
            entry = self.store.add(
                urlparse(self.path).path,
                project=route["project"],
                sentry_key=self._sentry_key(),
                item_type=item_type,
                event=event,
            )
            event_id = event_id or (event or {}).get("event_id", "")
            self.log.info(
                "item received",
                extra={
                    "fields": {
                        "seq": entry["seq"],
                        "project": route["project"],
                        "item_type": item_type,
                        "event_id": event_id,
                    }
                },
            )
        self.reply(200, {"id": event_id})


if __name__ == "__main__":
    serve(SentryHandler)
