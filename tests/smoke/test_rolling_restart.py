"""Restarting core-server one replica at a time is invisible to clients.

core-server shuts down gracefully (in-flight requests finish, the port closes) and nginx
moves idempotent requests to the other replica when a connection fails, so a rolling
restart under steady client load produces no 5xx at all.
"""

from __future__ import annotations

import httpx
import pytest

from infralab.lab import Lab
from infralab.load import ConcurrentGets
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


def test_a_rolling_restart_of_core_server_produces_no_5xx(lab: Lab, lab_http: httpx.Client) -> None:
    with ConcurrentGets(lab_http, "/api/health", workers=4, limit=20_000) as load:
        for replica in ("core-1", "core-2"):
            lab.compose.compose.restart([replica], timeout=20)
            wait_until(lambda r=replica: lab.states()[r].ready, timeout=90, interval=1, what=f"{replica} healthy")
        # Requests went on until the second replica was back.
    answered = len(load.statuses)
    errors = sorted({s for s in load.statuses if s != 200})
    assert answered > 100, f"only {answered} requests during the restart: was the load running?"
    assert not errors, f"clients saw {errors} in {answered} requests"
