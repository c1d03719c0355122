"""The incident report of one drill run: Markdown (Korean headings) + PNGs, and Allure attachments.

Rendering is pure (`render_report` from an `IncidentRun`) so it is unit-tested from a synthetic
timeline; `IncidentRecorder` gathers the pieces from the lab at teardown, each one best effort:
a report must still be written when the lab is what failed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import allure

from infralab.absence import outcome
from infralab.alerts import INFO_ALERTS, SlackMessage, SlackSink
from infralab.checklist import checklist_event
from infralab.logs import LogLine, LogSource
from infralab.page_timing import page_bound
from infralab.paths import REPORTS_DIR
from infralab.plots import Window, render_graph
from infralab.prometheus import Prometheus
from infralab.scenario import Expected, NotExpected, Scenario, SignalKind
from infralab.sentry import PROJECTS, SentryEvent, SentrySink
from infralab.timeline import Timeline

INCIDENTS_DIR = REPORTS_DIR / "incidents"
LOG_BACKENDS = {"loki": "Loki (query_range API)", "container": "컨테이너 로그 (docker logs)"}
_SERVICES_BY_PROJECT = {v: k for k, v in PROJECTS.items()}
T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    passed: bool
    failure: str = ""  # the failing assertion (exception text), empty on a pass
    phase: str = "call"  # setup | call | teardown: where it failed


@dataclass(frozen=True)
class GraphFile:
    title: str
    filename: str  # beside the report


@dataclass(frozen=True)
class IncidentRun:
    scenario: Scenario
    timeline: Timeline
    verdict: Verdict
    test_id: str
    started_at: datetime
    log_backend: str | None = None  # None: the drill asserted no log line
    log_lines: Sequence[LogLine] = ()
    slack: Sequence[SlackMessage] = ()
    sentry: Sequence[SentryEvent] = ()
    graphs: Sequence[GraphFile] = ()
    problems: Sequence[str] = ()  # pieces the report could not gather, and why


def report_path(scenario: Scenario, started_at: datetime, directory: Path = INCIDENTS_DIR) -> Path:
    """Its own name per run (UTC start to the second): a later run never overwrites an earlier one,
    and names sort by time. The graphs beside it take its stem (`_graphs`)."""
    return directory / f"{started_at.astimezone(UTC):%Y-%m-%d-%H%M%S}-{scenario.name}.md"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}s"


def _hms(at: datetime) -> str:
    return f"{at.astimezone(UTC):%H:%M:%S}.{at.microsecond // 1000:03d}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _met(value: bool | None) -> str:
    return {True: "✅", False: "❌", None: "—"}[value]


def render_report(run: IncidentRun) -> str:
    s, tl = run.scenario, run.timeline
    lines = [
        f"# 장애 보고서: {s.name}",
        "",
        f"- 실행 (UTC): {run.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        f"- 테스트: `{run.test_id}`",
        f"- 결과: {'✅ 통과 (pass)' if run.verdict.passed else '❌ 실패 (fail)'}",
    ]
    lines += [f"- 런북: {s.runbook}"] if s.runbook else []
    lines += ["", "## 가설", "", s.hypothesis.strip(), "", "## 장애 주입", "", s.fault, ""]
    lines += _verdict(run.verdict)
    lines += _key_metrics(s, tl)
    lines += _slo_table(s, tl)
    lines += _timeline_table(s, tl)
    lines += _signals(s, tl)
    lines += _logs(run)
    lines += _slack(run.slack)
    lines += _sentry(run.sentry)
    lines += ["## 그래프", ""]
    lines += [f"![{g.title}]({g.filename})" for g in run.graphs] or ["(그래프 없음)"]
    lines += [""]
    if run.problems:
        lines += ["## 보고서 작성 중 문제", "", *[f"- {p}" for p in run.problems], ""]
    return "\n".join(lines)


def _verdict(verdict: Verdict) -> list[str]:
    if verdict.passed:
        passed = "통과: 모든 신호와 복구가 SLO 안에 확인되었고, 기대하지 않은 신호는 드릴 내내 없었다."
        return ["## 판정", "", passed, ""]
    return ["## 판정", "", f"실패 ({verdict.phase} 단계). 실패한 단정:", "", "```", verdict.failure.strip(), "```", ""]


# The MTTD cell of a drill that pages nobody by design (infralab/detections.py tells it from a missed page).
NO_PAGE = "페이지 없음"


def _key_metrics(s: Scenario, tl: Timeline) -> list[str]:
    """MTTD is to the page (when a person is told); the first symptom and the page's bound beside it."""
    signals = [e.event for e in s.expected().values()]
    first = tl.first_of(signals, after=s.fault_event)
    symptom = tl.mttd(s.fault_event, signals)
    mttr = tl.duration(s.fault_event, s.checklist_event)
    repair = tl.duration(s.recovery_event, s.checklist_event)
    slack = s.expected().get(SignalKind.SLACK)
    if slack is None:
        page = f"| MTTD | — | {NO_PAGE}: 이 드릴은 Slack 알림을 기대하지 않는다 |"
    elif (info := tl.alerts.get(slack.event)) in INFO_ALERTS:
        page, slack = f"| MTTD | — | {NO_PAGE}: `{slack.event}`({info})는 정보 알림이다 |", None
    else:
        paged = _seconds(tl.duration(s.fault_event, slack.event))
        page = f"| MTTD | {paged} | `{s.fault_event}` → 첫 페이지 `{slack.event}` |"
    return [
        "## 핵심 지표",
        "",
        "| 지표 | 값 | 구간 |",
        "|---|---|---|",
        page,
        *_page_bound(s, tl, slack.event if slack else None),
        f"| 첫 증상 | {_seconds(symptom)} | `{s.fault_event}` → 첫 신호 `{first.name if first else '—'}` |",
        f"| MTTR | {_seconds(mttr)} | `{s.fault_event}` → `{s.checklist_event}` |",
        f"| 복구 소요 | {_seconds(repair)} | `{s.recovery_event}` → `{s.checklist_event}` |",
        *(f"| {_cell(name)} | {_cell(value)} | 드릴이 잰 값 |" for name, value in tl.figures.items()),
        "",
    ]


def _page_bound(s: Scenario, tl: Timeline, event: str | None) -> list[str]:
    """The page's best and worst delivery by its rule and the pipeline's intervals, and the measured ratio."""
    if event is None:
        return []
    alertname = tl.alerts.get(event)
    bound = page_bound(alertname) if alertname else None
    if bound is None:
        why = (
            "Prometheus 규칙이 아닌 알림(배포 이벤트)"
            if alertname
            else "규칙의 알림으로 본 페이지가 아니다(아직 안 왔거나 하트비트 침묵)"
        )
        return [f"| 페이지 이론적 최소 | — | {why} |"]
    # From the first symptom: how long the fault takes to build up (a heap filling) is not the pipeline's.
    symptoms = [e.event for kind, e in s.expected().items() if kind is not SignalKind.SLACK]
    first = tl.first_of(symptoms, after=s.fault_event)
    lead = tl.duration(first.name, event) if first is not None else None
    start = first.name if first is not None and lead is not None and lead >= 0 else s.fault_event
    measured = tl.duration(start, event)
    ratio = (
        f"; `{start}` → 페이지 {_seconds(measured)} = 최소의 {measured / bound.best:.1f}배"
        if measured is not None and bound.best > 0
        else ""
    )
    return [
        f"| 페이지 이론적 최소 | {_seconds(bound.best)} | {alertname}: {bound.explain()}"
        f" (최악 {_seconds(bound.worst)}: 스크레이프·평가를 한 번씩 놓치고 범위 창을 다 채우면){ratio} |"
    ]


def _slo_table(s: Scenario, tl: Timeline) -> list[str]:
    rows = ["## SLO", "", "| 이벤트 | SLO | 기준 이벤트 | 실측 | 충족 |", "|---|---|---|---|---|"]
    for name, slo in s.slo.items():
        event = tl.find(name) or tl.find(checklist_event(name))  # a checklist item's deadline, set by the drill
        reference = tl.reference_of(event, s.anchors) if event else None
        took = event.offset - reference.offset if event and reference else None
        met = (took <= slo) if took is not None else (False if event is None else None)
        ref_name = reference.name if reference else "—"
        rows.append(f"| {_cell(name)} | ≤ {slo:.0f}s | {_cell(ref_name)} | {_seconds(took)} | {_met(met)} |")
    return [*rows, ""]


def _timeline_table(s: Scenario, tl: Timeline) -> list[str]:
    rows = ["## 타임라인", "", "| UTC | offset | event | SLO | met? |", "|---|---|---|---|---|"]
    for e in tl.events:
        slo = "" if e.slo is None else f"≤ {e.slo:.0f}s"
        rows.append(f"| {_hms(e.at)} | +{e.offset:.1f}s | {_cell(e.name)} | {slo} | {_met(tl.slo_met(e, s.anchors))} |")
    return [*rows, ""]


def _signals(s: Scenario, tl: Timeline) -> list[str]:
    fault = tl.find(s.fault_event)
    rows = ["## 신호", "", "| 종류 | 기대 | 타임라인 이벤트 / 사유 | 관측 |", "|---|---|---|---|"]
    for kind, spec in s.signals.items():
        if isinstance(spec, Expected):
            seen = tl.find(spec.event)
            when = "❌ 미관측" if seen is None else "✅"
            when += f" 장애 후 +{seen.offset - fault.offset:.1f}s" if seen and fault else ""
            rows.append(f"| {kind.value} | 예 | {_cell(spec.event)} | {when} |")
        else:
            rows.append(f"| {kind.value} | 아니오 | {_cell(spec.reason)} | {_absence(tl, spec)} |")
    rows += [f"| 그 밖 | 아니오 | {_cell(a.reason)} | {_absence(tl, a)} |" for a in s.absences]
    return [*rows, ""]


def _absence(tl: Timeline, claim: NotExpected) -> str:
    """Each proof's outcome, as the drill marked it on the timeline."""
    cells = []
    for proof in claim.proofs:
        result = outcome(tl, proof)
        if result is None:
            cells.append(f"— 미확인 (드릴이 끝까지 가지 못했다): {proof.describe()}")
        elif result.absent:
            cells.append(f"✅ absent over {result.seconds} s (checked): {proof.describe()}")
        else:
            cells.append(f"❌ {proof.describe()}, 그러나 나타남: {result.found}")
    return "<br>".join(_cell(c) for c in cells)


def _logs(run: IncidentRun) -> list[str]:
    if run.log_backend is None:
        return ["## 로그", "", "이 드릴은 로그 단정을 하지 않았다.", ""]
    rows = ["## 로그", "", f"응답한 백엔드: **{LOG_BACKENDS.get(run.log_backend, run.log_backend)}**", ""]
    rows += [f"- `{_hms(line.at)}` `{_cell(line.line[:200])}`" for line in run.log_lines]
    return [*rows, ""]


def _slack(messages: Sequence[SlackMessage]) -> list[str]:
    if not messages:
        return ["## Slack 알림", "", "(받은 알림 없음)", ""]
    rows = ["## Slack 알림", "", "| 수신 (UTC) | alertname | service | channel | status |", "|---|---|---|---|---|"]
    rows += [
        f"| {m.received_at} | {m.alertname or _cell(m.title)} | {m.service} | {m.channel} | {m.status} |"
        for m in messages
    ]
    return [*rows, ""]


def _sentry(events: Sequence[SentryEvent]) -> list[str]:
    if not events:
        return ["## Sentry 이벤트", "", "(받은 이벤트 없음)", ""]
    groups = Counter(
        (
            _SERVICES_BY_PROJECT.get(e.project, e.project),
            e.level,
            ", ".join(e.exception_types) or e.message[:80],
        )
        for e in events
    )
    rows = ["## Sentry 이벤트", "", "| 서비스 | level | 예외 / 메시지 | 건수 |", "|---|---|---|---|"]
    rows += [f"| {svc} | {lvl} | {_cell(what)} | {n} |" for (svc, lvl, what), n in groups.most_common()]
    return [*rows, ""]


@dataclass
class IncidentRecorder:
    """Opened before a drill, finished at its teardown: gathers, renders, writes and attaches."""

    scenario: Scenario
    timeline: Timeline
    test_id: str
    prometheus: Prometheus | None = None
    slack: SlackSink | None = None
    sentry: SentrySink | None = None
    logs: LogSource | None = None
    directory: Path = INCIDENTS_DIR
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    problems: list[str] = field(default_factory=list)
    _slack_since: int = 0
    _sentry_since: int = 0
    _logs_seen: int = 0

    def __post_init__(self) -> None:
        slack, sentry = self.slack, self.sentry
        self._slack_since = self._try("Slack cursor", lambda: slack.cursor() if slack else 0, 0)
        self._sentry_since = self._try("Sentry cursor", lambda: sentry.cursor() if sentry else 0, 0)
        self._logs_seen = len(self.logs.found) if self.logs else 0

    def _try(self, what: str, gather: Callable[[], T], default: T) -> T:
        try:
            return gather()
        except Exception as exc:  # noqa: BLE001 - the report notes it and goes on
            self.problems.append(f"{what}: {exc!r}")
            return default

    def finish(self, verdict: Verdict) -> Path:
        path = report_path(self.scenario, self.started_at, self.directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only what arrived from the fault on: the wait for a steady state before it may still
        # collect the resolutions of an earlier drill's alerts.
        fault = self.timeline.find(self.scenario.fault_event)
        cutoff = fault.at if fault else self.started_at
        slack_records = _since(self._records(self.slack, self._slack_since, "Slack"), cutoff)
        sentry_records = [r for r in self._records(self.sentry, self._sentry_since, "Sentry") if _is_event(r)]
        sentry_records = _since(sentry_records, cutoff)
        found = self.logs.found[self._logs_seen :] if self.logs else []
        run = IncidentRun(
            scenario=self.scenario,
            timeline=self.timeline,
            verdict=verdict,
            test_id=self.test_id,
            started_at=self.started_at,
            log_backend=self.logs.name if found and self.logs else None,
            log_lines=found,
            slack=[SlackMessage.from_record(r) for r in slack_records],
            sentry=[SentryEvent.from_record(r) for r in sentry_records],
            graphs=self._graphs(path),
            problems=self.problems,
        )
        markdown = render_report(run)
        path.write_text(markdown, encoding="utf-8")
        self._attach(markdown, slack_records, sentry_records, path)
        return path

    def _records(self, sink: SlackSink | SentrySink | None, since: int, what: str) -> list[dict[str, Any]]:
        return self._try(f"{what} records", lambda: sink.records(since) if sink else [], [])

    def _graphs(self, report: Path) -> list[GraphFile]:
        if self.prometheus is None:
            return []
        prometheus, tl, s = self.prometheus, self.timeline, self.scenario
        end = datetime.now(UTC)
        fault, recovered = tl.find(s.fault_event), tl.find(s.checklist_event) or tl.find(s.recovery_event)
        window = Window(self.started_at - timedelta(seconds=60), end)
        fault_window = Window(fault.at, recovered.at if recovered else end) if fault else None
        files = []
        for n, graph in enumerate(s.graphs, start=1):
            target = report.with_name(f"{report.stem}-{n}.png")
            render = partial(
                render_graph, prometheus, graph.exprs, title=graph.title, window=window, fault=fault_window, path=target
            )
            if self._try(f"graph {graph.title!r}", partial(render, events=tl.events), None) is not None:
                files.append(GraphFile(graph.title, target.name))
        return files

    def _attach(self, markdown: str, slack: list[dict[str, Any]], sentry: list[dict[str, Any]], report: Path) -> None:
        allure.attach(markdown, name="incident report", attachment_type=allure.attachment_type.TEXT, extension="md")
        allure.attach(self.timeline.to_csv(), name="timeline.csv", attachment_type=allure.attachment_type.CSV)
        for png in sorted(report.parent.glob(f"{report.stem}-*.png")):
            allure.attach(png.read_bytes(), name=png.name, attachment_type=allure.attachment_type.PNG)
        allure.attach(json.dumps(slack, indent=2), name="Slack payloads", attachment_type=allure.attachment_type.JSON)
        allure.attach(json.dumps(sentry, indent=2), name="Sentry events", attachment_type=allure.attachment_type.JSON)


def _is_event(record: dict[str, Any]) -> bool:
    return record.get("item_type") == "event"


def _since(records: list[dict[str, Any]], cutoff: datetime) -> list[dict[str, Any]]:
    """Records received at or after the cut-off; a record without a readable time is kept."""
    kept = []
    for record in records:
        try:
            received = datetime.fromisoformat(str(record["received_at"]))
        except (KeyError, ValueError):
            kept.append(record)
            continue
        if received >= cutoff:
            kept.append(record)
    return kept
