"""Slack incoming-webhook stand-in: records what Alertmanager's slack_configs post.

POST /<any path>   a webhook payload (JSON object); answered like Slack, 200 "ok"
(plus /records and /health from recording.py)
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from recording import RecordingHandler, Store, serve


class SlackHandler(RecordingHandler):
    service = "slack-sink"
    store = Store()

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_body()
        if body is None:
            return
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            # Slack's own answer to a payload it cannot read.
            self.reply(400, "invalid_payload", "text/plain")
            return
        entry = self.store.add(urlparse(self.path).path, payload=payload)
        self.log.info(
            "payload received",
            extra={
                "fields": {
                    "seq": entry["seq"],
                    "channel": payload.get("channel"),
                    "text": (payload.get("text") or "")[:200],
                }
            },
        )
        self.reply(200, "ok", "text/plain")


if __name__ == "__main__":
    serve(SlackHandler)
