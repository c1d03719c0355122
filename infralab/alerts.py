"""What the alert path delivered: Alertmanager's API and the Slack stand-in's record."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from infralab.standins import StandIn
from infralab.waiting import Waited, wait_until

# Title of the lab's Slack template: "[FIRING:1] CoreServerDown (core-server)" / "[RESOLVED] ...".
# Posted by `make deploy` (deploy_events.py), not by Prometheus: they mark an event that has happened and
# end by themselves; the lab is steady while they are active, and nothing waits for their resolution.
EVENT_ALERTS = frozenset({"DeployFinished", "DeployRolledBack"})
# News for #lab-deploys only: a person learns of it but nobody is paged (reports count no page for it).
INFO_ALERTS = frozenset({"DeployFinished"})
# A failed rollback is posted the same way but is no steady state: it keeps the lab "not steady" until it ends.
NEVER_RESOLVED = EVENT_ALERTS | {"Watchdog", "DeployRollbackFailed"}

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

    def wait_for(
        self, alertname: str, status: str, *, since: int = 0, timeout: float, channel: str | None = None
    ) -> Waited[SlackMessage]:
        """The first such message since `since`, in `channel` if named (an alert may reach several)."""

        def probe() -> SlackMessage | None:
            return next(
                (
                    m
                    for m in self.messages(since)
                    if m.alertname == alertname and m.status == status and channel in (None, m.channel)
                ),
                None,
            )

        where = f" in {channel}" if channel else ""
        return wait_until(probe, timeout=timeout, interval=1.0, what=f"Slack message {status} {alertname}{where}")

    def unresolved(self, since: int = 0) -> set[tuple[str, str]]:
        """Alert groups (alertname, service) whose latest message is a firing one.

        Alertmanager sends the resolved notification a group_interval after the alert resolves;
        until then the channel still owes a message. Watchdog and the event alerts are not waited for.
        """
        latest: dict[tuple[str, str], str] = {}
        for message in self.messages(since):
            if message.alertname and message.alertname not in NEVER_RESOLVED:
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
        """Active conditions: the event alerts (a deploy) are not one."""
        active = {a["labels"]["alertname"] for a in self.alerts() if a["status"]["state"] == "active"}
        return active - EVENT_ALERTS

    def silence(
        self, matchers: dict[str, str], *, regex: dict[str, str] | None = None, until: datetime, by: str, comment: str
    ) -> str:
        """A silence of the alerts whose labels equal `matchers` and match `regex`; its id."""
        exact = [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()]
        body = {
            "matchers": exact
            + [{"name": k, "value": v, "isRegex": True, "isEqual": True} for k, v in (regex or {}).items()],
            "startsAt": datetime.now(UTC).isoformat(),
            "endsAt": until.isoformat(),
            "createdBy": by,
            "comment": comment,
        }
        response = self.client.post("/alertmanager/api/v2/silences", json=body)
        response.raise_for_status()
        return str(response.json()["silenceID"])

    def expire(self, silence_id: str) -> None:
        self.client.delete(f"/alertmanager/api/v2/silence/{silence_id}").raise_for_status()

    def post(self, alert: dict[str, Any]) -> None:
        """An alert that does not come from Prometheus (a deploy event), straight into Alertmanager."""
        self.client.post("/alertmanager/api/v2/alerts", json=[alert]).raise_for_status()
