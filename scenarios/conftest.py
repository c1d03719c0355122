"""Fixtures shared by the failure drills."""

from __future__ import annotations

import pytest

from infralab.checklist import PostRecovery
from infralab.drill import Drill
from infralab.logs import LogSource
from infralab.scenario import scenario_for
from infralab.sentry import SentrySink
from infralab.timeline import Timeline


@pytest.fixture
def drill(
    request: pytest.FixtureRequest,
    timeline: Timeline,
    post_recovery: PostRecovery,
    sentry: SentrySink,
    log_source: LogSource,
) -> Drill:
    """A drill started from a steady lab, with the Scenario its module declares."""
    scenario = scenario_for(request.module, request.node.originalname)
    assert scenario is not None, f"{request.module.__name__} declares no SCENARIO for {request.node.originalname}"
    started = Drill(scenario, timeline, post_recovery, sentry, log_source)
    started.begin()
    return started
