"""What a failed lab test reports about the lab is read from the live lab, not made up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from infralab import failure_context
from infralab.lab import Lab
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


def test_the_failure_context_shows_what_nginx_logged_during_the_test(lab: Lab, lab_http: httpx.Client) -> None:
    since = datetime.now(UTC)
    # An unknown user on an operations route: nginx answers 401 and writes an error_log line.
    user = f"nobody-{uuid.uuid4().hex[:8]}"
    assert lab_http.get("/prometheus/-/ready", auth=(user, "wrong")).status_code == 401

    def logged() -> str | None:
        context = failure_context.describe(lab, since)
        return context if user in context else None

    context = wait_until(logged, timeout=15, what="nginx's error_log line in the failure context").value
    assert context.startswith("containers not ready:\n  (none)\n"), context
    assert f'user "{user}" was not found' in context
