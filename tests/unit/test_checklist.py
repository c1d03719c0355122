"""The post-recovery checklist: its [자동] items are exactly the checks the suite runs, in order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infralab import checklist
from infralab.checklist import (
    CHECKS,
    CheckFailedError,
    ChecklistError,
    ChecklistItem,
    PostRecovery,
    alerts_resolved,
    containers_healthy,
    error_ratio_under_slo,
    no_fault_active,
    no_job_lost,
    read_post_recovery_checklist,
    run_post_recovery_checklist,
    worker_queue_drained,
)
from infralab.paths import REPO_ROOT
from infralab.scenario import CHECKLIST_PASSED, RECOVERY
from infralab.stack import ServiceState
from infralab.timeline import Timeline
from infralab.waiting import DeadlineExceededError

pytestmark = pytest.mark.unit

POST_RECOVERY_MD = REPO_ROOT / "checklists" / "복구-후-검증-체크리스트.md"
INCIDENT_MD = REPO_ROOT / "checklists" / "장애-대응-체크리스트.md"
ITEM = re.compile(r"^- \[ \] (.*)$")


def items() -> list[str]:
    return [m[1] for line in POST_RECOVERY_MD.read_text(encoding="utf-8").splitlines() if (m := ITEM.match(line))]


def test_the_markdown_says_which_checks_run_in_which_order_and_deadline() -> None:
    read = read_post_recovery_checklist()
    assert [(item.name, item.deadline) for item in read] == [
        ("no-fault-active", 30.0),
        ("containers-healthy", 90.0),
        ("error-ratio-under-slo", 120.0),
        ("worker-queue-drained", 120.0),
        ("no-job-lost", 180.0),
        ("alerts-resolved", 180.0),
    ]
    assert all(item.check is CHECKS[item.name] for item in read)


def _checklist(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "checklist.md"
    path.write_text("# 복구 후 검증\n\n" + "\n".join(lines) + "\n- [ ] [수동] 사람이 본다\n", encoding="utf-8")
    return path


def test_editing_the_markdown_changes_what_runs(tmp_path: Path) -> None:
    edited = _checklist(
        tmp_path,
        "- [ ] [자동] `alerts-resolved` (기한 240 s) — 알림이 모두 풀렸다",
        "- [ ] [자동] `no-fault-active` (기한 10 s) — 장애가 없다",
    )
    read = read_post_recovery_checklist(edited)
    assert [(item.name, item.deadline, item.check) for item in read] == [
        ("alerts-resolved", 240.0, alerts_resolved),
        ("no-fault-active", 10.0, no_fault_active),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("- [ ] [자동] `no-such-check` (기한 30 s) — 무엇", r"checklist.md:3: no check named 'no-such-check'"),
        ("- [ ] [자동] 장애가 없다", r"checklist.md:3: an \[자동\] item names its check and deadline"),
        ("- [ ] [자동] `no-fault-active` — 기한이 없다", r"names its check and deadline"),
        ("- [x] [자동] `no-fault-active` (기한 30 s) — 체크된 채 저장됨", r"names its check and deadline"),
        ("* [ ] [자동] `no-fault-active` (기한 30 s) — 다른 목록 기호", r"names its check and deadline"),
    ],
)
def test_an_item_without_a_known_check_is_an_error(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ChecklistError, match=message):
        read_post_recovery_checklist(_checklist(tmp_path, line))


def test_a_check_listed_twice_or_none_at_all_is_an_error(tmp_path: Path) -> None:
    twice = "- [ ] [자동] `no-job-lost` (기한 180 s) — 작업이 끝났다"
    with pytest.raises(ChecklistError, match="listed twice"):
        read_post_recovery_checklist(_checklist(tmp_path, twice, twice))
    with pytest.raises(ChecklistError, match="no \\[자동\\] item"):
        read_post_recovery_checklist(_checklist(tmp_path))


def test_every_item_says_who_checks_it() -> None:
    untagged = [item for item in items() if not item.startswith(("[자동] ", "[수동] "))]
    assert untagged == []
    assert any(item.startswith("[수동] ") for item in items())


def test_incident_checklist_points_at_the_lab_entry_points() -> None:
    text = INCIDENT_MD.read_text(encoding="utf-8")
    for path in ("grafana", "prometheus", "alertmanager", "admin", "slack-sink", "sentry-sink"):
        assert f"http://127.0.0.1:8080/{path}/" in text
    assert "make ps" in text
    assert "make logs s=core-1" in text


# --- the checks, on fakes ------------------------------------------------------------------


@dataclass
class Fakes:
    states: dict[str, ServiceState] = field(default_factory=dict)
    promql: dict[str, dict[str, float]] = field(default_factory=dict)
    am_active: set[str] = field(default_factory=lambda: {"Watchdog"})
    slack_unresolved: set[tuple[str, str]] = field(default_factory=set)
    faults_active: list[dict[str, Any]] = field(default_factory=list)
    injected: set[str] = field(default_factory=set)  # Faults.injected: the session's own faults
    stuck_jobs: dict[str, str] = field(default_factory=dict)
    cutoffs: list[datetime | None] = field(default_factory=list)

    # Prometheus
    def values(self, expr: str) -> dict[str, float]:
        return self.promql.get(expr, {})

    def value(self, expr: str) -> float | None:
        return next(iter(self.promql.get(expr, {}).values()), None)

    # Alertmanager, SlackSink, Faults, Jobs
    def active_alertnames(self) -> set[str]:
        return self.am_active

    def unresolved(self) -> set[tuple[str, str]]:
        return self.slack_unresolved

    def active(self) -> list[dict[str, Any]]:
        return self.faults_active

    def unfinished(self, *, created_before: datetime | None = None) -> dict[str, str]:
        self.cutoffs.append(created_before)
        return self.stuck_jobs


class FakeLab:
    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes

    def states(self) -> dict[str, ServiceState]:
        return self.fakes.states


def ctx(fakes: Fakes) -> PostRecovery:
    return PostRecovery(FakeLab(fakes), fakes, fakes, fakes, fakes, fakes)  # type: ignore[arg-type]


NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
HEALTHY = {
    "promql": {"sum(worker_queue_depth)": {"": 0.0}},
    "states": {"core-1": ServiceState("core-1", "running", "healthy")},
}


def test_all_checks_pass_on_a_recovered_lab() -> None:
    fakes = Fakes(**HEALTHY)  # type: ignore[arg-type]
    for check in CHECKS.values():
        check(ctx(fakes), NOW)
    assert fakes.cutoffs == [NOW]


@pytest.mark.parametrize(
    ("check", "broken", "message"),
    [
        (
            no_fault_active,
            {"faults_active": [{"id": "f1"}, {"id": "f2"}], "injected": {"f2"}},
            r"faults still active.*\['f2'\]",
        ),
        (containers_healthy, {"states": {"core-1": ServiceState("core-1", "exited", "none")}}, "core-1 .exited"),
        (
            error_ratio_under_slo,
            {"promql": {"route:nginx_http_requests_5xx:ratio_rate1m": {"route=api": 0.2}}},
            r"5xx ratio at or above 0.05.*route=api",
        ),
        (worker_queue_drained, {"promql": {"sum(worker_queue_depth)": {"": 3.0}}}, "still holds 3 jobs"),
        (worker_queue_drained, {"promql": {}}, "no series"),
        (no_job_lost, {"stuck_jobs": {"j1": "PENDING"}}, "1 jobs not terminal"),
        (alerts_resolved, {"am_active": {"Watchdog", "CoreServerAllReplicasDown"}}, "active in Alertmanager"),
        (alerts_resolved, {"slack_unresolved": {("CoreReplicaDown", "core-server")}}, "no resolved message"),
        (
            alerts_resolved,
            {"promql": {'ALERTS{alertstate="firing", alertname!="Watchdog"}': {"alertname=X": 1.0}}},
            "firing in Prometheus",
        ),
    ],
)
def test_each_check_says_what_is_still_wrong(check: checklist.Check, broken: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckFailedError, match=message):
        check(ctx(Fakes(**{**HEALTHY, **broken})), NOW)


def test_a_fault_the_session_did_not_inject_is_noted_not_failed(capsys: pytest.CaptureFixture[str]) -> None:
    # A person's own fault on the lab a session attached to (--lab=running): not the drill's to recover.
    no_fault_active(ctx(Fakes(faults_active=[{"id": "f7"}], injected={"f1"})), NOW)
    assert "not injected by this session are active, left alone: ['f7']" in capsys.readouterr().out


def test_runner_marks_each_check_in_order_against_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[str] = []

    def flaky(c: PostRecovery, started: datetime) -> None:
        attempts.append("flaky")
        if len(attempts) < 2:
            raise CheckFailedError("not yet")

    monkeypatch.setattr(checklist, "wait_until", _fast(checklist.wait_until))
    tl = Timeline("t")
    tl.mark(RECOVERY)
    items = [ChecklistItem("first", 10.0, lambda c, s: None), ChecklistItem("flaky", 20.0, flaky)]
    events = run_post_recovery_checklist(ctx(Fakes()), tl, checklist=items)
    assert [(e.name, e.slo, e.since) for e in events] == [
        ("checklist: first", 10.0, RECOVERY),
        ("checklist: flaky", 20.0, RECOVERY),
        (CHECKLIST_PASSED, 20.0, RECOVERY),
    ]
    assert attempts == ["flaky", "flaky"]


def test_runner_fails_with_the_last_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(c: PostRecovery, started: datetime) -> None:
        raise CheckFailedError("3 jobs not terminal")

    tl = Timeline("t")
    tl.mark(RECOVERY)
    with pytest.raises(DeadlineExceededError, match=r"post-recovery check never.*3 jobs not terminal"):
        # A drill's own deadline (its Scenario's SLO for the item) replaces the checklist's.
        run_post_recovery_checklist(
            ctx(Fakes()), tl, deadlines={"never": 0}, checklist=[ChecklistItem("never", 60.0, never)]
        )
    assert [e.name for e in tl.events] == [RECOVERY]


def _fast(wait: Any) -> Any:
    """wait_until without its 2-second polling interval."""
    return lambda probe, **kw: wait(probe, **{**kw, "interval": 0.01})
