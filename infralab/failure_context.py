"""What the lab looked like when a test failed: attached to the report, printed by pytest.

A flaky failure in CI is gone by the time anyone looks; the two things that explain most of
them are which containers were not ready and what nginx's error log said (no live upstreams,
connect() refused, upstream timed out) while the test ran.
"""

from __future__ import annotations

from datetime import datetime

from infralab.lab import Lab

ERROR_LINES = 40  # nginx error_log lines kept: the end of the story, not a flood


def nginx_error_lines(log: str, limit: int = ERROR_LINES) -> list[str]:
    """The error_log lines of nginx's container log (the access log is one JSON object per line)."""
    errors = [line for line in log.splitlines() if line.strip() and not line.lstrip().startswith("{")]
    return errors[-limit:]


def describe(lab: Lab, since: datetime) -> str:
    not_ready = [f"  {s.service}: {s.state}/{s.health}" for s in lab.states().values() if not s.ready]
    errors = nginx_error_lines(lab.logs("nginx", since=since.isoformat()))
    lines = ["containers not ready:", *(not_ready or ["  (none)"])]
    lines += [f"nginx error_log since {since:%H:%M:%S} UTC (last {ERROR_LINES}):", *(errors or ["  (empty)"])]
    return "\n".join(lines)
