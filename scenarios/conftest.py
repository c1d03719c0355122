"""Fixtures shared by the failure drills."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from infralab.checklist import PostRecovery
from infralab.drill import Drill
from infralab.logs import LogSource
from infralab.scenario import scenario_for
from infralab.sentry import SentrySink
from infralab.timeline import Timeline

_CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed
    return report


@pytest.fixture
def drill(
    request: pytest.FixtureRequest,
    timeline: Timeline,
    post_recovery: PostRecovery,
    sentry: SentrySink,
    log_source: LogSource,
) -> Iterator[Drill]:
    """A drill started from a steady lab, with the Scenario its module declares."""
    scenario = scenario_for(request.module, request.node.originalname)
    assert scenario is not None, f"{request.module.__name__} declares no SCENARIO for {request.node.originalname}"
    started = Drill(scenario, timeline, post_recovery, sentry, log_source)
    started.begin()
    yield started
    # Absences are proved in Drill.recovered(): a drill that passes without it left its
    # NotExpected signals unchecked.
    if request.node.stash.get(_CALL_PASSED, False) and scenario.absence_proofs() and not started.absences_proved:
        pytest.fail(f"{scenario.name} passed without drill.recovered(): its NotExpected signals were never proved")
