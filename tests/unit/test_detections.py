"""The slowest detections, read back from incident reports rendered by infralab.reports itself."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infralab import detections
from infralab.absence import NoSentryEvents
from infralab.detections import Detection, ReportFormatError, format_lines, parse_report, read_reports, slowest
from infralab.reports import IncidentRun, Verdict, render_report, report_path
from infralab.scenario import CHECKLIST_PASSED, FAULT, RECOVERY, Expected, NotExpected, Scenario, SignalKind
from infralab.timeline import Event, Timeline

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 26, 3, 10, tzinfo=UTC)
NO_SENTRY = NotExpected("a stopped container sends nothing", NoSentryEvents(("core-server",)))


def scenario(name: str, slo: dict[str, float]) -> Scenario:
    metric, slack = list(slo)[:2]
    return Scenario(
        name=name,
        hypothesis="A fault is seen, alerted on and recovered from.",
        fault="`docker stop` something",
        slo=slo,
        signals={
            SignalKind.METRIC: Expected(metric),
            SignalKind.LOG: Expected(metric),
            SignalKind.SENTRY: NO_SENTRY,
            SignalKind.SLACK: Expected(slack),
        },
    )


def drill_run(
    s: Scenario, signals: list[tuple[str, float, float | None]], *, passed: bool = True, at: datetime = T0
) -> IncidentRun:
    """A run of `s` whose fault is at 0 s and whose events are `signals` (name, offset, SLO)."""
    marks = [(FAULT, 0.0, None), *signals, (RECOVERY, 120.0, None), (CHECKLIST_PASSED, 150.0, 180.0)]
    events = [Event(name, at + timedelta(seconds=offset), offset, slo) for name, offset, slo in marks]
    return IncidentRun(
        scenario=s,
        timeline=Timeline(s.name, events),
        verdict=Verdict(True) if passed else Verdict(False, "AssertionError: too slow", "call"),
        test_id=f"scenarios/test_{s.name.replace('-', '_')}.py::test_it",
        started_at=at - timedelta(seconds=20),
    )


def write(run: IncidentRun, directory: Path) -> Path:
    """The report where IncidentRecorder.finish writes it, with render_report's text."""
    path = report_path(run.scenario, run.started_at, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run), encoding="utf-8")
    return path


NGINX = scenario("nginx-502-all-replicas", {"502 at the entry point": 15, "critical alert in Slack": 45})
DB = scenario("database-down", {"pool errors in Prometheus": 60, "DatabaseDown in #lab-critical": 90})
WORKER = scenario("worker-down", {"worker target down": 60, "WorkerDown in #lab-warning": 120})
OOM = scenario("oom-kill", {"OOM kill counted": 30, "ContainerOomKilled in Slack": 60})


@pytest.fixture
def incidents(tmp_path: Path) -> Path:
    """A night's reports: four drills, one of them saw nothing."""
    directory = tmp_path / "reports" / "incidents"
    write(drill_run(NGINX, [("502 at the entry point", 3.0, 15), ("critical alert in Slack", 50.0, 45)]), directory)
    write(
        drill_run(DB, [("DatabaseDown in #lab-critical", 41.5, 90), ("pool errors in Prometheus", 44.0, 60)]), directory
    )
    write(drill_run(WORKER, [], passed=False), directory)
    # The page missed its SLO: the detection is slow and the drill failed.
    write(
        drill_run(OOM, [("OOM kill counted", 35.2, 30), ("ContainerOomKilled in Slack", 65.0, 60)], passed=False),
        directory,
    )
    return directory


def test_a_rendered_report_gives_its_mttd_first_signal_and_that_signals_slo(incidents: Path) -> None:
    (path,) = incidents.glob("*-database-down.md")
    found = parse_report(path.read_text(encoding="utf-8"), path)
    assert found == Detection(
        drill="database-down",
        mttd=41.5,
        signal="DatabaseDown in #lab-critical",  # the page, not the first symptom
        slo=90.0,
        slo_met=True,
        passed=True,
        test="scenarios/test_database_down.py::test_it",
        started=datetime(2026, 11, 26, 3, 9, 40),
        report=path,
    )


def test_a_missed_slo_and_a_failed_drill_are_read_as_such(incidents: Path) -> None:
    (path,) = incidents.glob("*-oom-kill.md")
    found = parse_report(path.read_text(encoding="utf-8"))
    assert (found.mttd, found.signal, found.slo, found.slo_met, found.passed) == (
        65.0,
        "ContainerOomKilled in Slack",
        60.0,
        False,
        False,
    )


def test_a_drill_whose_page_never_came_has_no_mttd(incidents: Path) -> None:
    (path,) = incidents.glob("*-worker-down.md")
    found = parse_report(path.read_text(encoding="utf-8"))
    assert (found.drill, found.mttd, found.signal, found.slo, found.passed, found.pages) == (
        "worker-down",
        None,
        "WorkerDown in #lab-warning",
        120.0,
        False,
        True,
    )


def test_a_drill_that_pages_nobody_is_neither_slow_nor_missed() -> None:
    quiet = Scenario(
        name="log-flood",
        hypothesis="Rotation bounds the flood; nobody is paged.",
        fault="a log flood",
        slo={"rotation in Prometheus": 60},
        signals={
            SignalKind.METRIC: Expected("rotation in Prometheus"),
            SignalKind.LOG: Expected("rotation in Prometheus"),
            SignalKind.SENTRY: NO_SENTRY,
            SignalKind.SLACK: NotExpected("nothing pages", NoSentryEvents(("core-server",))),
        },
    )
    found = parse_report(render_report(drill_run(quiet, [("rotation in Prometheus", 8.0, 60)])))
    assert (found.mttd, found.signal, found.pages) == (None, None, False)
    paged = parse_report(render_report(drill_run(DB, [("DatabaseDown in #lab-critical", 41.5, 90)])))
    assert format_lines([found, paged]) == [
        "Slowest detections (MTTD: fault → first page), 1 of 1 paging drills:",
        "1. `database-down` 41.5s → `DatabaseDown in #lab-critical` (SLO ≤ 90s, met)",
    ]


def test_the_slowest_come_first_and_the_undetected_are_named(incidents: Path) -> None:
    found, problems = read_reports([incidents])
    assert problems == []
    assert [d.drill for d in found] == ["database-down", "nginx-502-all-replicas", "oom-kill", "worker-down"]
    assert [d.drill for d in slowest(found, 2)] == ["oom-kill", "nginx-502-all-replicas"]
    assert format_lines(found, 2) == [
        "Slowest detections (MTTD: fault → first page), 2 of 4 paging drills:",
        "1. `oom-kill` 65.0s → `ContainerOomKilled in Slack` (SLO ≤ 60s, MISSED) — drill failed",
        "2. `nginx-502-all-replicas` 50.0s → `critical alert in Slack` (SLO ≤ 45s, MISSED)",
        "Never paged (no Slack notification seen): `worker-down`",
    ]


def test_escaped_pipes_in_event_names_keep_the_slo_tables_columns(tmp_path: Path) -> None:
    piped = scenario("log-flood", {"lines | sec over limit": 20, "LogFlood | Slack": 60, "a | b": 10})
    run = drill_run(piped, [("a | b", 1.0, 10), ("lines | sec over limit", 7.5, 20), ("LogFlood | Slack", 9.0, 60)])
    found = parse_report(render_report(run))
    assert (found.mttd, found.signal, found.slo, found.slo_met) == (9.0, "LogFlood | Slack", 60.0, True)


def test_figures_in_the_key_metrics_table_do_not_confuse_the_mttd_row() -> None:
    run = drill_run(NGINX, [("502 at the entry point", 3.0, 15), ("critical alert in Slack", 40.0, 45)])
    run.timeline.figure("failed requests", "0 of 9120 | 52/s")
    run.timeline.figure("MTTD of the replica", "n/a")
    found = parse_report(render_report(run))
    assert (found.mttd, found.signal, found.slo) == (40.0, "critical alert in Slack", 45.0)


def test_without_its_slo_table_the_signals_slo_comes_from_the_timeline() -> None:
    text = render_report(drill_run(NGINX, [("critical alert in Slack", 40.0, 45)]))
    head, rest = text.split("## SLO\n", 1)
    without_slo_table = head + "## 타임라인" + rest.split("## 타임라인", 1)[1]
    assert "| ≤ 45s | fault injected |" not in without_slo_table
    found = parse_report(without_slo_table)
    assert (found.signal, found.slo, found.slo_met) == ("critical alert in Slack", 45.0, True)


def test_the_newest_run_of_a_drill_wins(tmp_path: Path) -> None:
    directory = tmp_path / "incidents"
    write(drill_run(NGINX, [("critical alert in Slack", 30.0, 45)], at=T0), directory)
    later = drill_run(NGINX, [("critical alert in Slack", 4.0, 45)], at=T0 + timedelta(days=1))
    write(later, directory)
    found, _ = read_reports([directory])
    assert [(d.drill, d.mttd) for d in found] == [("nginx-502-all-replicas", 4.0)]


def test_other_markdown_is_reported_not_fatal(incidents: Path) -> None:
    (incidents / "README.md").write_text("# Reports\n\nNothing here.\n", encoding="utf-8")
    (incidents / "broken.md").write_text("# 장애 보고서: broken\n\nno tables\n", encoding="utf-8")
    found, problems = read_reports([incidents])
    assert len(found) == 4
    assert len(problems) == 2
    assert any("README.md" in p and "title" in p for p in problems)
    assert any("broken.md" in p and "MTTD" in p for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "no heading at all\n",
        "# 장애 보고서: x\n\n| 지표 | 값 | 구간 |\n|---|---|---|\n| MTTD | soon | `a` → `b` |\n",
    ],
)
def test_what_is_not_a_readable_report_raises(text: str) -> None:
    with pytest.raises(ReportFormatError):
        parse_report(text)


def test_main_prints_the_lines_and_names_unreadable_files(incidents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (incidents / "notes.md").write_text("scratch\n", encoding="utf-8")
    assert detections.main([str(incidents), "--top", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "Slowest detections (MTTD: fault → first page), 1 of 4 paging drills:",
        "1. `oom-kill` 65.0s → `ContainerOomKilled in Slack` (SLO ≤ 60s, MISSED) — drill failed",
        "Never paged (no Slack notification seen): `worker-down`",
    ]
    assert "notes.md" in err


def test_main_without_reports_says_so_and_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The nightly posts its Slack message whatever happened: a run that wrote no report is not an error here.
    assert detections.main([str(tmp_path / "missing")]) == 0
    assert (
        capsys.readouterr().out
        == f"No drill report in {tmp_path / 'missing'}: no failure drill ran, or none wrote its report.\n"
    )


def test_main_refuses_a_top_below_one() -> None:
    with pytest.raises(SystemExit) as exited:
        detections.main(["--top", "0"])
    assert exited.value.code == 2


def test_runs_as_a_module_from_the_checkout_with_the_default_directory(incidents: Path) -> None:
    # What the nightly's Jenkinsfile runs: `.venv/bin/python -m infralab.detections reports/incidents`.
    result = subprocess.run(
        [sys.executable, "-m", "infralab.detections"],
        cwd=incidents.parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[1].startswith("1. `oom-kill` 65.0s")


def test_a_failed_drills_report_with_problems_is_still_read(incidents: Path) -> None:
    run = replace(
        drill_run(NGINX, [("critical alert in Slack", 3.0, 45)], passed=False),
        problems=("Slack records: ConnectError('refused')",),
    )
    found = parse_report(render_report(run))
    assert (found.passed, found.mttd, found.test) == (False, 3.0, "scenarios/test_nginx_502_all_replicas.py::test_it")


def test_every_run_of_a_drill_that_day_keeps_its_report_and_the_latest_is_read(tmp_path: Path) -> None:
    # A run never overwrites an earlier one (report_path is timed); the latest counts, whatever the file order.
    directory = tmp_path / "incidents"
    signals = [("502 at the entry point", 3.0, 15), ("critical alert in Slack", 40.0, 45)]
    later = write(drill_run(NGINX, signals, at=T0 + timedelta(minutes=10)), directory)
    earlier = write(drill_run(NGINX, signals, at=T0), directory)
    assert sorted(directory.glob("*-nginx-502-all-replicas.md")) == [earlier, later]
    found, problems = read_reports([directory])
    assert problems == []
    assert [(d.drill, d.report) for d in found] == [("nginx-502-all-replicas", later)]
