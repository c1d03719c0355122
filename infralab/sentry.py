"""Sentry assertions against the lab's Sentry stand-in (the services' default DSNs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from infralab.standins import StandIn
from infralab.waiting import Waited, wait_until

# The project ids of the default DSNs in .env.example.
PROJECTS = {"core-server": "1", "worker-server": "2", "admin-server": "3"}


@dataclass(frozen=True)
class SentryEvent:
    seq: int
    project: str
    event_id: str
    level: str
    message: str
    exception_types: tuple[str, ...]
    tags: dict[str, str]
    raw: dict[str, Any]
    release: str = ""  # <service>@<version> as the SDK reports it; empty when the event has none

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SentryEvent:
        event = record.get("event") or {}
        exception = event.get("exception") or {}
        # {"values": [...]} (most SDKs) or a bare list (sentry-go): Sentry accepts both.
        values = exception.get("values") or [] if isinstance(exception, dict) else exception
        message = event.get("message") or ""
        if isinstance(message, dict):  # the SDKs send {"formatted": ...} or a plain string
            message = message.get("formatted") or message.get("message") or ""
        tags = event.get("tags") or {}
        if isinstance(tags, list):  # [[key, value], ...] is the other wire form
            tags = {k: v for k, v in tags}
        return cls(
            seq=record["seq"],
            project=record.get("project", ""),
            event_id=event.get("event_id", ""),
            level=event.get("level", "error"),
            message=message,
            exception_types=tuple(v.get("type", "") for v in values),
            tags={str(k): str(v) for k, v in tags.items()},
            raw=event,
            release=str(event.get("release") or ""),
        )


class SentrySink(StandIn):
    def __init__(self, client: httpx.Client, *, prefix: str = "/sentry-sink") -> None:
        super().__init__(client, prefix=prefix)

    def events(self, since: int = 0) -> list[SentryEvent]:
        return [SentryEvent.from_record(r) for r in self.records(since) if r.get("item_type") == "event"]

    def wait_for(
        self,
        service: str,
        *,
        since: int = 0,
        timeout: float,
        exception_type: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Waited[SentryEvent]:
        """The first event of `service` since `since` with that exception in its chain and those tags."""
        project, wanted = PROJECTS[service], dict(tags or {})

        def probe() -> SentryEvent | None:
            return next(
                (
                    e
                    for e in self.events(since)
                    if e.project == project
                    and (exception_type is None or exception_type in e.exception_types)
                    and wanted.items() <= e.tags.items()
                ),
                None,
            )

        what = f"Sentry event from {service}" + (f" with {exception_type}" if exception_type else "")
        return wait_until(probe, timeout=timeout, interval=1.0, what=what + (f" tagged {wanted}" if wanted else ""))
