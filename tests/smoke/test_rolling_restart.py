"""Restarting core-server one replica at a time (`make restart s="core-1 core-2"`) is invisible to clients.

core-server shuts down gracefully (in-flight requests finish, the port closes) and nginx moves
idempotent requests to the other replica when a connection fails, so a rolling restart under
steady client load produces no 5xx at all — as long as each replica is back behind nginx, not
only healthy in Docker, before the next one restarts (infralab.rollout; CI once saw the 502 of
restarting core-2 while nginx still benched core-1).
"""

from __future__ import annotations

import httpx
import pytest

from infralab import rollout
from infralab.lab import Lab
from infralab.load import ConcurrentGets

pytestmark = pytest.mark.smoke


def test_a_rolling_restart_of_core_server_produces_no_5xx(lab: Lab, lab_http: httpx.Client) -> None:
    steps: list[str] = []
    with ConcurrentGets(lab_http, "/api/health", workers=4, limit=20_000) as load:
        rollout.restart(lab, lab_http, ["core-1", "core-2"], steps.append)
    answered = len(load.statuses)
    errors = sorted({s for s in load.statuses if s != 200})
    back_behind_nginx = [step.split(":")[0] for step in steps if "nginx routes to it again" in step]
    assert back_behind_nginx == ["core-1", "core-2"], steps
    assert answered > 100, f"only {answered} requests during the restart: was the load running?"
    assert not errors, f"clients saw {errors} in {answered} requests"
