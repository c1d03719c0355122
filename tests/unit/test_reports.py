"""The Markdown incident report, rendered from a synthetic timeline and gathered from fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from infralab.absence import NoSentryEvents, NoSlack
from infralab.alerts import SlackMessage, SlackSink
from infralab.logs import LogLine, LokiLogs
from infralab.prometheus import Series
from infralab.reports import IncidentRecorder, IncidentRun, Verdict, render_report, report_path
from infralab.scenario import CHECKLIST_PASSED, FAULT, RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind
from infralab.sentry import SentryEvent, SentrySink
from infralab.timeline import Event, Timeline

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
NO_SENTRY = NoSentryEvents(("core-server",))
NO_CRITICAL = NoSlack(channels=("#lab-critical",))
SCENARIO = Scenario(
    name="nginx-502-all-replicas",
    hypothesis="Both core-server replicas stop: nginx answers /api/ with a JSON 502.",
    fault="`docker stop` core-1 and core-2",
    slo={"502 at the entry point": 15, "critical alert in Slack": 45, "502 in nginx's access log": 15},
    signals={
        SignalKind.METRIC: Expected("502 at the entry point"),
        SignalKind.LOG: Expected("502 in nginx's access log"),  # never marked below: a miss
        SignalKind.SENTRY: NotExpected("a stopped JVM sends nothing", NO_SENTRY),
        SignalKind.SLACK: Expected("critical alert in Slack"),
    },
    graphs=(Graph("5xx ratio", ("service:http_requests_5xx:ratio_rate1m",)),),
    runbook="docs/failure-experiments/nginx-502.md#runbook",
)


def timeline() -> Timeline:
    events = [
        (FAULT, 0.0, None, None),
        ("502 at the entry point", 3.0, 15, None),
        ("critical alert in Slack", 50.0, 45, None),
        (RECOVERY, 60.0, None, None),
        (CHECKLIST_PASSED, 151.0, 180, RECOVERY),
        ("absent: no Sentry event from core-server (over 182 s)", 152.0, None, None),
    ]
    return Timeline("t", [Event(n, T0 + timedelta(seconds=at), at, slo, ref) for n, at, slo, ref in events])


def slack_record(seq: int, title: str, channel: str, at: datetime) -> dict[str, Any]:
    at_text = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"seq": seq, "received_at": at_text, "payload": {"channel": channel, "attachments": [{"title": title}]}}


def sentry_record(seq: int, project: str, exception: str, at: datetime) -> dict[str, Any]:
    event = {"event_id": f"e{seq}", "level": "error", "exception": {"values": [{"type": exception}]}}
    return {"seq": seq, "received_at": at.isoformat(), "project": project, "item_type": "event", "event": event}


FIRING = slack_record(
    7, "[FIRING:1] CoreServerAllReplicasDown (core-server)", "#lab-critical", T0 + timedelta(seconds=50)
)
SENTRY = [sentry_record(n, "1", "PSQLException", T0 + timedelta(seconds=5)) for n in (1, 2)]


def run(**overrides: Any) -> IncidentRun:
    fields: dict[str, Any] = {
        "scenario": SCENARIO,
        "timeline": timeline(),
        "verdict": Verdict(False, "DeadlineExceededError: log line (container): nginx contains '502'", "call"),
        "test_id": "scenarios/test_nginx_502.py::test_all",
        "started_at": T0 - timedelta(seconds=30),
        "log_backend": "container",
        "log_lines": [LogLine(T0 + timedelta(seconds=2), '{"status":502}', {"status": 502}, "container")],
        "slack": [SlackMessage.from_record(FIRING)],
        "sentry": [SentryEvent.from_record(r) for r in SENTRY],
    }
    return IncidentRun(**{**fields, **overrides})


def test_report_sections_in_korean() -> None:
    text = render_report(run())
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# 장애 보고서: nginx-502-all-replicas",
        "## 가설",
        "## 장애 주입",
        "## 판정",
        "## 핵심 지표",
        "## SLO",
        "## 타임라인",
        "## 신호",
        "## 로그",
        "## Slack 알림",
        "## Sentry 이벤트",
        "## 그래프",
    ]
    assert "- 결과: ❌ 실패 (fail)" in text
    assert "DeadlineExceededError: log line (container)" in text
    assert "런북: docs/failure-experiments/nginx-502.md#runbook" in text


def test_mttd_mttr_and_slos() -> None:
    text = render_report(run())
    # MTTD is to the page, when a person is told; the first symptom beside it.
    assert "| MTTD | 50.0s | `fault injected` → 첫 페이지 `critical alert in Slack` |" in text
    assert "| 첫 증상 | 3.0s | `fault injected` → 첫 신호 `502 at the entry point` |" in text
    assert "| MTTR | 151.0s |" in text
    assert "| 복구 소요 | 91.0s |" in text
    assert "| 502 at the entry point | ≤ 15s | fault injected | 3.0s | ✅ |" in text
    assert "| critical alert in Slack | ≤ 45s | fault injected | 50.0s | ❌ |" in text
    assert "| 502 in nginx's access log | ≤ 15s | — | — | ❌ |" in text  # never reached
    assert "| 08:02:31.000 | +151.0s | post-recovery checklist passed | ≤ 180s | ✅ |" in text


def test_the_page_is_measured_against_its_rules_theoretical_minimum() -> None:
    tl = timeline()
    assert "| 페이지 이론적 최소 | — |" in render_report(run(timeline=tl))  # the drill did not say which alert paged
    tl.alerts["critical alert in Slack"] = "CoreServerAllReplicasDown"  # what Drill.slack_alert records
    # Measured from the first symptom (502 at 3 s) to the page (50 s): the pipeline's share.
    assert (
        "| 페이지 이론적 최소 | 15.0s | CoreServerAllReplicasDown: for 10s + group_wait 5s"
        " (최악 30.0s: 스크레이프·평가를 한 번씩 놓치고 범위 창을 다 채우면);"
        " `502 at the entry point` → 페이지 47.0s = 최소의 3.1배 |"
    ) in render_report(run(timeline=tl))


def test_an_info_notification_is_no_page() -> None:
    tl = timeline()
    tl.alerts["critical alert in Slack"] = "DeployFinished"  # a finished deploy: news, nobody is paged
    text = render_report(run(timeline=tl))
    assert "| MTTD | — | 페이지 없음: `critical alert in Slack`(DeployFinished)는 정보 알림이다 |" in text
    assert "페이지 이론적 최소" not in text


def test_signals_alerts_sentry_and_logs() -> None:
    text = render_report(run())
    assert "| metric | 예 | 502 at the entry point | ✅ 장애 후 +3.0s |" in text
    assert "| log | 예 | 502 in nginx's access log | ❌ 미관측 |" in text
    assert (
        "| sentry | 아니오 | a stopped JVM sends nothing "
        "| ✅ absent over 182 s (checked): no Sentry event from core-server |" in text
    )
    assert "| CoreServerAllReplicasDown | core-server | #lab-critical | firing |" in text
    assert "| core-server | error | PSQLException | 2 |" in text
    assert "응답한 백엔드: **컨테이너 로그 (docker logs)**" in text
    assert '- `08:00:02.000` `{"status":502}`' in text


def test_absences_checked_failed_or_never_reached() -> None:
    scenario = replace(SCENARIO, absences=(NotExpected("nothing critical", (NO_CRITICAL, NO_SENTRY)),))
    failed = timeline()
    failed.events[-1] = Event(
        "present: no Sentry event from core-server: core-server error PSQLException: 'refused' (event e1)",
        T0 + timedelta(seconds=152),
        152.0,
    )
    text = render_report(run(scenario=scenario, timeline=failed))
    assert (
        "| sentry | 아니오 | a stopped JVM sends nothing | ❌ no Sentry event from core-server, "
        "그러나 나타남: core-server error PSQLException: 'refused' (event e1) |" in text
    )
    assert (
        "| 그 밖 | 아니오 | nothing critical | — 미확인 (드릴이 끝까지 가지 못했다): no Slack message on #lab-critical"
        "<br>❌ no Sentry event from core-server, 그러나 나타남: " in text
    )


def test_a_pass_without_logs_or_alerts() -> None:
    text = render_report(run(verdict=Verdict(True), log_backend=None, log_lines=[], slack=[], sentry=[]))
    assert "- 결과: ✅ 통과 (pass)" in text
    assert "이 드릴은 로그 단정을 하지 않았다." in text
    assert "(받은 알림 없음)" in text
    assert "(그래프 없음)" in text


def test_report_path_is_dated_and_timed_utc() -> None:
    late = datetime(2026, 11, 27, 8, 30, 5, tzinfo=timezone(timedelta(hours=9)))  # 23:30:05 UTC the day before
    assert report_path(SCENARIO, late, Path("/r")) == Path("/r/2026-11-26-233005-nginx-502-all-replicas.md")


def test_a_later_run_of_the_same_drill_that_day_gets_its_own_report_sorted_after() -> None:
    runs = [T0, T0 + timedelta(seconds=1), T0 + timedelta(hours=3)]
    paths = [report_path(SCENARIO, at, Path("/r")) for at in runs]
    assert len(set(paths)) == len(runs)
    assert sorted(paths) == paths


def _client(records: list[dict[str, Any]]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        since = int(request.url.params.get("since", 0))
        return httpx.Response(200, json=[r for r in records if r["seq"] > since])

    return httpx.Client(base_url="http://lab", transport=httpx.MockTransport(handler))


class FakePrometheus:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def range_query(self, expr: str, start: datetime, end: datetime) -> list[Series]:
        if self.fail:
            raise ConnectionError("prometheus down")
        return [Series({"service": "core-server"}, [(start, 0.0), (end, 1.0)])]


def test_recorder_writes_report_and_graphs_pass_or_fail(tmp_path: Path) -> None:
    slack_records: list[dict[str, Any]] = []
    sentry_records: list[dict[str, Any]] = []
    tl = Timeline("t")
    logs = LokiLogs(_client([]), "infralab-test")
    recorder = IncidentRecorder(
        SCENARIO,
        tl,
        test_id="t",
        prometheus=FakePrometheus(),  # type: ignore[arg-type]
        slack=SlackSink(_client(slack_records), prefix=""),
        sentry=SentrySink(_client(sentry_records), prefix=""),
        logs=logs,
        directory=tmp_path,
    )
    before = datetime.now(UTC) - timedelta(seconds=1)
    # A resolution owed by an earlier drill, arriving during the wait for a steady state.
    slack_records.append(slack_record(1, "[RESOLVED] CoreReplicaDown (core-server)", "#lab-warning", before))
    tl.mark(FAULT)
    now = datetime.now(UTC) + timedelta(milliseconds=5)
    slack_records.append(slack_record(2, "[FIRING:1] CoreServerAllReplicasDown (core-server)", "#lab-critical", now))
    sentry_records.append(sentry_record(1, "2", "ConnectError", now))
    logs.found.append(LogLine(now, "line", {}, "loki"))
    tl.mark("502 at the entry point", slo=15)

    path = recorder.finish(Verdict(True))

    text = path.read_text(encoding="utf-8")
    assert path.name == f"{recorder.started_at:%Y-%m-%d-%H%M%S}-nginx-502-all-replicas.md"
    assert (tmp_path / f"{path.stem}-1.png").read_bytes().startswith(b"\x89PNG")
    assert f"![5xx ratio]({path.stem}-1.png)" in text
    assert "CoreServerAllReplicasDown" in text
    assert "CoreReplicaDown" not in text
    assert "| worker-server | error | ConnectError | 1 |" in text
    assert "응답한 백엔드: **Loki (query_range API)**" in text


def test_recorder_still_writes_when_the_lab_is_down(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    down = httpx.Client(base_url="http://lab", transport=httpx.MockTransport(refuse))
    recorder = IncidentRecorder(
        SCENARIO,
        Timeline("t"),
        test_id="t",
        prometheus=FakePrometheus(fail=True),  # type: ignore[arg-type]
        slack=SlackSink(down, prefix=""),
        directory=tmp_path,
    )
    text = recorder.finish(Verdict(False, "StackError: lab not healthy", "setup")).read_text(encoding="utf-8")
    assert "실패 (setup 단계)" in text
    assert "## 보고서 작성 중 문제" in text
    assert "- Slack cursor: ConnectError('refused')" in text
    assert "graph '5xx ratio': ConnectionError('prometheus down')" in text


def test_a_second_run_the_same_day_keeps_the_first_report_and_its_graphs(tmp_path: Path) -> None:
    def run_at(started: datetime) -> Path:
        tl = Timeline("t")
        tl.mark(FAULT)
        recorder = IncidentRecorder(
            SCENARIO,
            tl,
            test_id="t",
            prometheus=FakePrometheus(),  # type: ignore[arg-type]
            directory=tmp_path,
            started_at=started,
        )
        return recorder.finish(Verdict(True))

    now = datetime.now(UTC)
    first, second = run_at(now - timedelta(minutes=5)), run_at(now)
    assert first != second
    assert first.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.name, f"{first.stem}-1.png", second.name, f"{second.stem}-1.png"]
    )
    assert f"![5xx ratio]({first.stem}-1.png)" in first.read_text(encoding="utf-8")


def test_a_checklist_deadline_set_by_the_drill_is_judged_by_its_checklist_event() -> None:
    scenario = replace(SCENARIO, slo={**SCENARIO.slo, "alerts-resolved": 240})
    tl = timeline()
    tl.events.append(Event("checklist: alerts-resolved", T0 + timedelta(seconds=150), 150.0, 240, RECOVERY))
    assert "| alerts-resolved | ≤ 240s | recovery started | 90.0s | ✅ |" in render_report(
        run(scenario=scenario, timeline=tl)
    )
