"""Restarting core-server one replica at a time is invisible to clients.

core-server shuts down gracefully (in-flight requests finish, the port closes) and nginx
moves idempotent requests to the other replica when a connection fails, so a rolling
restart under steady client load produces no 5xx at all — provided the next replica is
restarted only once nginx routes to the previous one again. Docker's health check is not
nginx's view: nginx benched the replica while it booted (passive checks, fail_timeout), and
restarting the other one inside that window leaves nginx no live peer (a 502, seen in CI).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from infralab.lab import Lab
from infralab.load import ConcurrentGets
from infralab.logs import ContainerLogs, LogSelector
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


def test_a_rolling_restart_of_core_server_produces_no_5xx(lab: Lab, lab_http: httpx.Client) -> None:
    nginx_log = ContainerLogs(lab)
    with ConcurrentGets(lab_http, "/api/health", workers=4, limit=20_000) as load:
        for replica in ("core-1", "core-2"):
            lab.compose.compose.restart([replica], timeout=20)
            wait_until(lambda r=replica: lab.states()[r].ready, timeout=90, interval=1, what=f"{replica} healthy")
            back_in_rotation = LogSelector(
                "nginx", fields={"upstream_addr": f"{lab.address(replica)}:8080", "upstream_status": "200"}
            )
            nginx_log.wait_for(back_in_rotation, since=datetime.now(UTC), timeout=30)
        # Requests went on until the second replica was back.
    answered = len(load.statuses)
    errors = sorted({s for s in load.statuses if s != 200})
    assert answered > 100, f"only {answered} requests during the restart: was the load running?"
    assert not errors, f"clients saw {errors} in {answered} requests"
