"""Reading back what the lab's stand-ins (Slack webhook, Sentry ingest) received, via nginx."""

from __future__ import annotations

from typing import Any

import httpx


class StandIn:
    def __init__(self, client: httpx.Client, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix  # where nginx routes the stand-in; "" when talking to it directly

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        response = self.client.get(f"{self.prefix}/records", params={"since": since})
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        return records

    def cursor(self) -> int:
        """Sequence number of the newest record: later waits look only past it."""
        records = self.records()
        return records[-1]["seq"] if records else 0
