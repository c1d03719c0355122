"""A deploy as an event in the lab's signals: a JSON line per step, and Alertmanager -> Slack.

The JSON lines (the services' log schema: ts, level, service, msg, plus the deploy's fields) go to
DEPLOY_LOG and, readable, to the operator's terminal. The finished and rolled-back deploys are
alerts posted straight to Alertmanager (they come from no Prometheus rule): #lab-deploys gets both,
#lab-warning the rollback too (monitoring/alertmanager/alertmanager.yml). Grafana marks deploys
from build_info (monitoring/grafana/build_dashboards.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from infralab.alerts import Alertmanager
from infralab.paths import WORK_DIR

DEPLOY_LOG = WORK_DIR / "deploys.jsonl"
# Each notification's runbook link (repository-relative, like the Prometheus rules' runbook_url).
DEPLOY_RUNBOOK = "docs/infra-components/ci-cd.md#배포"
ROLLBACK_RUNBOOK = "docs/observability/alerting.md#deploy-rolled-back"
ROLLBACK_FAILED_RUNBOOK = "docs/observability/alerting.md#deploy-rollback-failed"
# How long each event alert stays active (it ends by itself).
FINISHED_FOR = timedelta(minutes=5)
ROLLED_BACK_FOR = timedelta(minutes=30)
ROLLBACK_FAILED_FOR = timedelta(hours=1)  # a person is on it by then, or it is paged again by the next deploy
ERROR_EVENTS = frozenset({"gate_failed", "rolled_back", "rollback_failed", "notify_failed"})


def read_deploy_log() -> list[dict[str, Any]]:
    """Every deploy event recorded on this machine, oldest first."""
    if not DEPLOY_LOG.exists():
        return []
    return [json.loads(line) for line in DEPLOY_LOG.read_text().splitlines() if line.strip()]


@dataclass
class DeployEvents:
    service: str  # the component deployed, e.g. core-server
    from_version: str
    to_version: str
    say: Callable[[str], None]
    alertmanager: Alertmanager
    rollback: bool = False  # `make rollback`: its finished record is not a deploy a later rollback undoes
    records: list[dict[str, Any]] = field(default_factory=list)
    # One id per deploy, on each of its JSON lines and alerts: a second rollback of the same version is a
    # new alert in Alertmanager (a label set it has seen is deduplicated and never notified again).
    deploy_id: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ"))

    def event(self, event: str, msg: str, **fields: Any) -> dict[str, Any]:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "error" if event in ERROR_EVENTS else "info",
            "service": "deploy",
            "msg": msg,
            "event": event,
            "component": self.service,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "deploy_id": self.deploy_id,
            **fields,
        }
        self.records.append(record)
        DEPLOY_LOG.parent.mkdir(parents=True, exist_ok=True)
        with DEPLOY_LOG.open("a") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.say(f"[deploy {record['ts'][11:19]}] {msg}")
        return record

    def finished(self, seconds: float) -> None:
        summary = f"{self.service} {self.to_version} deployed (was {self.from_version})"
        self.event("finished", summary, duration_s=round(seconds, 1), rollback=self.rollback)
        self._notify("DeployFinished", "info", summary, f"every gate passed in {seconds:.0f}s", FINISHED_FOR)

    def rolled_back(self, seconds: float, gate: str, evidence: str) -> None:
        summary = f"{self.service} deploy of {self.to_version} rolled back to {self.from_version}"
        self.event("rolled_back", summary, duration_s=round(seconds, 1), gate=gate)
        first_lines = "\n".join(evidence.splitlines()[:6])
        self._notify(
            "DeployRolledBack",
            "warning",
            summary,
            f"gate {gate} failed; {self.from_version} serves again ({seconds:.0f}s).\n{first_lines}",
            ROLLED_BACK_FOR,
            runbook=ROLLBACK_RUNBOOK,
        )

    def rollback_failed(self, replica: str, gate: str, evidence: str) -> None:
        """The previous version did not come back either: the service may be down, a person must act."""
        self.event(
            "rollback_failed", f"{replica} did not come back on {self.from_version}: the lab needs a person",
            replica=replica, gate=gate, evidence=evidence,
        )  # fmt: skip
        first_lines = "\n".join(evidence.splitlines()[:6])
        self._notify(
            "DeployRollbackFailed",
            "critical",
            f"{self.service}: the rollback from {self.to_version} to {self.from_version} failed on {replica}",
            f"gate {gate} failed while {replica} went back to {self.from_version}; the rollback stopped there.\n"
            f"{first_lines}",
            ROLLBACK_FAILED_FOR,
            runbook=ROLLBACK_FAILED_RUNBOOK,
        )

    def _notify(
        self,
        alertname: str,
        severity: str,
        summary: str,
        description: str,
        lasts: timedelta,
        runbook: str = DEPLOY_RUNBOOK,
    ) -> None:
        now = datetime.now(UTC)
        alert: dict[str, Any] = {
            "labels": {
                "alertname": alertname,
                "service": self.service,
                "severity": severity,
                "version": self.to_version,
                "deploy_id": self.deploy_id,
            },
            "annotations": {
                "summary": summary,
                "description": description,
                "runbook_url": runbook,
            },
            "startsAt": now.isoformat(),
            "endsAt": (now + lasts).isoformat(),
        }
        try:
            self.alertmanager.post(alert)
        except httpx.HTTPError as exc:
            # The deploy's outcome stands either way; a lost notification is said, not raised.
            self.event("notify_failed", f"{alertname} did not reach Alertmanager: {exc}", alertname=alertname)
