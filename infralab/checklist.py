"""Checks every drill runs before its fault (steady state) and after its recovery."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from infralab.alerts import Alertmanager, SlackSink
from infralab.faults import Faults
from infralab.jobs import Jobs
from infralab.lab import Lab
from infralab.paths import REPO_ROOT
from infralab.prometheus import Prometheus
from infralab.scenario import CHECKLIST_PASSED, RECOVERY
from infralab.timeline import Event, Timeline
from infralab.waiting import wait_until


def wait_steady_state(lab: Lab, alertmanager: Alertmanager, slack: SlackSink, *, timeout: float = 150) -> None:
    """Every container healthy, no alert active but Watchdog, and Slack told every resolution.

    A drill that starts inside an earlier incident proves nothing, Alertmanager would not
    notify again for an alert that is still active, and a late resolved notification of an
    earlier alert would land in the drill's own Slack window.
    """
    wait_until(
        lambda: (
            all(s.ready for s in lab.states().values())
            and alertmanager.active_alertnames() <= {"Watchdog"}
            and not slack.unresolved()
        ),
        timeout=timeout,
        interval=5,
        what="steady state: lab healthy, no alert active but Watchdog, every resolution in Slack",
    )


def wait_recovered(
    lab: Lab, prometheus: Prometheus, timeline: Timeline, *, since: str, healthy_slo: float, resolved_slo: float
) -> None:
    """The post-recovery checks a machine can run: containers healthy, every alert resolved."""
    wait_until(
        lambda: all(s.ready for s in lab.states().values()),
        timeout=timeline.budget(since, healthy_slo),
        what="every container healthy",
    )
    timeline.mark("every container healthy", slo=healthy_slo)
    # Rate-based alerts look back a minute: they resolve last.
    wait_until(
        lambda: prometheus.values('ALERTS{alertstate="firing", alertname!="Watchdog"}') == {},
        timeout=timeline.budget(since, resolved_slo),
        interval=5,
        what="every alert but Watchdog resolved",
    )
    timeline.mark("every alert resolved", slo=resolved_slo)


# --- The post-recovery checklist (checklists/복구-후-검증-체크리스트.md, the [자동] items) ---------


class CheckFailedError(AssertionError):
    """A post-recovery check does not hold yet; the message says what is still wrong."""


@dataclass(frozen=True)
class PostRecovery:
    """Everything the post-recovery checks look at."""

    lab: Lab
    prometheus: Prometheus
    alertmanager: Alertmanager
    slack: SlackSink
    faults: Faults
    jobs: Jobs
    error_ratio_slo: float = 0.05  # the 5xx-ratio alerts fire above this (lab-alerts.yml)


def no_fault_active(ctx: PostRecovery, started: datetime) -> None:
    """None of the faults this session injected is active; anyone else's (a person's own fault on
    the lab a session attached to) is not the drill's to recover, and only noted."""
    active = [f.get("id") for f in ctx.faults.active()]
    ours = [i for i in active if i in ctx.faults.injected]
    if ours:
        raise CheckFailedError(f"faults still active in admin-server (injected by this session): {ours}")
    if active:
        print(f"[lab] no-fault-active: faults not injected by this session are active, left alone: {active}")


def containers_healthy(ctx: PostRecovery, started: datetime) -> None:
    bad = [f"{s.service} ({s.state}/{s.health})" for s in ctx.lab.states().values() if not s.ready]
    if bad:
        raise CheckFailedError(f"containers not healthy: {bad}")


def error_ratio_under_slo(ctx: PostRecovery, started: datetime) -> None:
    # Per service and at the entry point: what clients see is nginx's ratio. A series absent
    # for lack of traffic (0/0) is not an error.
    over = {
        f"{rule}{{{labels}}}": value
        for rule in ("service:http_requests_5xx:ratio_rate1m", "route:nginx_http_requests_5xx:ratio_rate1m")
        for labels, value in ctx.prometheus.values(rule).items()
        if value >= ctx.error_ratio_slo
    }
    if over:
        raise CheckFailedError(f"5xx ratio at or above {ctx.error_ratio_slo}: {over}")


def worker_queue_drained(ctx: PostRecovery, started: datetime) -> None:
    depth = ctx.prometheus.value("sum(worker_queue_depth)")
    if depth is None:
        raise CheckFailedError("worker_queue_depth has no series: is worker-server scraped?")
    if depth > 0:
        raise CheckFailedError(f"worker queue still holds {depth:.0f} jobs")


def no_job_lost(ctx: PostRecovery, started: datetime) -> None:
    stuck = ctx.jobs.unfinished(created_before=started)
    if stuck:
        raise CheckFailedError(f"{len(stuck)} jobs not terminal: {dict(list(stuck.items())[:10])}")


def alerts_resolved(ctx: PostRecovery, started: datetime) -> None:
    firing = ctx.prometheus.values('ALERTS{alertstate="firing", alertname!="Watchdog"}')
    if firing:
        raise CheckFailedError(f"alerts firing in Prometheus: {sorted(firing)}")
    active = ctx.alertmanager.active_alertnames() - {"Watchdog"}
    if active:
        raise CheckFailedError(f"alerts active in Alertmanager: {sorted(active)}")
    # Alertmanager sends the resolved notification a group_interval later: Slack still owes it.
    unresolved = ctx.slack.unresolved()
    if unresolved:
        raise CheckFailedError(f"Slack has no resolved message yet for {sorted(unresolved)}")


Check = Callable[[PostRecovery, datetime], None]

# What an [자동] item of the post-recovery checklist may name. The Markdown is the source: it says
# which of these run, in which order, each within which deadline.
CHECKS: dict[str, Check] = {
    "no-fault-active": no_fault_active,
    "containers-healthy": containers_healthy,
    "error-ratio-under-slo": error_ratio_under_slo,
    "worker-queue-drained": worker_queue_drained,
    "no-job-lost": no_job_lost,
    "alerts-resolved": alerts_resolved,
}
POST_RECOVERY_MD = REPO_ROOT / "checklists" / "복구-후-검증-체크리스트.md"
# Any list item tagged [자동] is automatic; one not written as "- [ ] [자동] ..." is an error, not skipped.
_AUTOMATIC = re.compile(r"^\s*[-*+] .*\[자동\]")
_ITEM = re.compile(r"^- \[ \] \[자동\] (?P<item>.*)$")
_NAMED = re.compile(r"^`(?P<name>[^`]+)` \(기한 (?P<deadline>\d+) s\) — \S")


class ChecklistError(ValueError):
    """The checklist's Markdown does not say what to run: an item without its check, an unknown check."""


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    deadline: float  # seconds from the recovery start
    check: Check


def read_post_recovery_checklist(
    path: Path = POST_RECOVERY_MD, checks: Mapping[str, Check] = CHECKS
) -> list[ChecklistItem]:
    """The [자동] items, in order: "- [ ] [자동] `<check>` (기한 <seconds> s) — <what>"."""
    items: list[ChecklistItem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _AUTOMATIC.match(line) is None:
            continue
        where = f"{path.name}:{number}"
        listed = _ITEM.match(line)
        named = _NAMED.match(listed["item"]) if listed else None
        if named is None:
            raise ChecklistError(
                f"{where}: an [자동] item names its check and deadline, `name` (기한 N s) — ...: {line}"
            )
        name = named["name"]
        if name not in checks:
            raise ChecklistError(f"{where}: no check named {name!r} (known: {', '.join(checks)})")
        if any(item.name == name for item in items):
            raise ChecklistError(f"{where}: {name!r} is listed twice")
        items.append(ChecklistItem(name, float(named["deadline"]), checks[name]))
    if not items:
        raise ChecklistError(f"{path.name}: no [자동] item")
    return items


def checklist_event(name: str) -> str:
    return f"checklist: {name}"


def _passes(check: Check, ctx: PostRecovery, started: datetime) -> bool:
    check(ctx, started)  # raises CheckFailedError while not yet; wait_until reports the last one
    return True


def run_post_recovery_checklist(
    ctx: PostRecovery,
    timeline: Timeline,
    *,
    since: str = RECOVERY,
    deadlines: Mapping[str, float] | None = None,
    checklist: Sequence[ChecklistItem] | None = None,
) -> list[Event]:
    """Every [자동] item of the post-recovery checklist, in order, each within its deadline.

    The items are read from the Markdown now (editing it changes what runs) unless given. Each
    deadline counts from `since` (the recovery start, or the fault for one that expires by itself;
    a drill may set its own in `deadlines`), and each pass is a timeline event; the last one,
    CHECKLIST_PASSED, ends MTTR.
    """
    items = read_post_recovery_checklist() if checklist is None else checklist
    limits = {item.name: (deadlines or {}).get(item.name, item.deadline) for item in items}
    started = datetime.now(UTC)  # jobs created before this must all finish
    events = []
    for item in items:
        wait_until(
            partial(_passes, item.check, ctx, started),
            timeout=timeline.budget(since, limits[item.name]),
            interval=2,
            what=f"post-recovery check {item.name}",
        )
        events.append(timeline.mark(checklist_event(item.name), slo=limits[item.name], since=since))
    events.append(timeline.mark(CHECKLIST_PASSED, slo=max(limits.values()), since=since))
    return events
