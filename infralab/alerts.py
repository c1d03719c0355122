"""What the alert path delivered: Alertmanager's API and the Slack stand-in's record."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from infralab.standins import StandIn
from infralab.waiting import Waited, wait_until

# Title of the lab's Slack template: "[FIRING:1] CoreServerDown (core-server)" / "[RESOLVED] ...".
_TITLE = re.compile(r"^\[(?P<status>FIRING|RESOLVED)(?::\d+)?\] (?P<alertname>\S+)(?: \((?P<service>[^)]*)\))?")


@dataclass(frozen=True)
class SlackMessage:
    seq: int
    received_at: str
    channel: str
    title: str
    text: str
    status: str  # firing | resolved | "" when the title is not the lab template's
    alertname: str
    service: str

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SlackMessage:
        payload = record["payload"]
        attachment = (payload.get("attachments") or [{}])[0]
        title = attachment.get("title") or payload.get("text") or ""
        match = _TITLE.match(title)
        return cls(
            seq=record["seq"],
            received_at=record["received_at"],
            channel=payload.get("channel", ""),
            title=title,
            text=attachment.get("text", ""),
            status=match["status"].lower() if match else "",
            alertname=match["alertname"] if match else "",
            service=(match["service"] or "") if match else "",
        )


class SlackSink(StandIn):
    """What Alertmanager posted to the Slack stand-in."""

    def __init__(self, client: httpx.Client, *, prefix: str = "/slack-sink") -> None:
        super().__init__(client, prefix=prefix)

    def messages(self, since: int = 0) -> list[SlackMessage]:
        return [SlackMessage.from_record(r) for r in self.records(since)]

    def wait_for(self, alertname: str, status: str, *, since: int = 0, timeout: float) -> Waited[SlackMessage]:
        def probe() -> SlackMessage | None:
            return next((m for m in self.messages(since) if m.alertname == alertname and m.status == status), None)

        return wait_until(probe, timeout=timeout, interval=1.0, what=f"Slack message {status} {alertname}")

    def unresolved(self, since: int = 0) -> set[tuple[str, str]]:
        """Alert groups (alertname, service) whose latest message is a firing one.

        Alertmanager sends the resolved notification a group_interval after the alert resolves;
        until then the channel still owes a message. Watchdog never resolves by design.
        """
        latest: dict[tuple[str, str], str] = {}
        for message in self.messages(since):
            if message.alertname and message.alertname != "Watchdog":
                latest[(message.alertname, message.service)] = message.status
        return {group for group, status in latest.items() if status == "firing"}


class Alertmanager:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def alerts(self, alertname: str | None = None) -> list[dict[str, Any]]:
        params = {"filter": f'alertname="{alertname}"'} if alertname else None
        response = self.client.get("/alertmanager/api/v2/alerts", params=params)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    def firing(self, alertname: str) -> bool:
        return any(a["status"]["state"] == "active" for a in self.alerts(alertname))

    def active_alertnames(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self.alerts() if a["status"]["state"] == "active"}
