"""The jobs client behind "no job lost": the suite's own jobs, plus anything stuck from before."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from infralab.jobs import Jobs

pytestmark = pytest.mark.unit

JOBS = {
    "a": {"id": "a", "status": "SUCCEEDED", "created_at": "2026-11-26T08:00:00.000Z"},
    "b": {"id": "b", "status": "PENDING", "created_at": "2026-11-26T08:00:01.000Z"},
    "c": {"id": "c", "status": "DISPATCHED", "created_at": "2026-11-26T07:59:00.000Z"},  # someone else's
    "d": {"id": "d", "status": "PENDING", "created_at": "2026-11-26T08:10:00.000Z"},  # after the cut-off
}


def handler(request: httpx.Request) -> httpx.Response:
    path, params = request.url.path, request.url.params
    if request.method == "POST":
        return httpx.Response(202, json={"id": "b", "status": "PENDING", "location": "/api/jobs/b"})
    if path.startswith("/api/jobs/"):
        return httpx.Response(200, json=JOBS[path.rsplit("/", 1)[1]])
    matching = [j for j in JOBS.values() if j["status"] == params["status"]]
    # One item per page, to exercise the cursor.
    index = int(params.get("cursor", 0))
    more = str(index + 1) if index + 1 < len(matching) else None
    return httpx.Response(200, json={"items": matching[index : index + 1], "next_cursor": more})


def test_unfinished_jobs_are_the_suites_own_and_older_ones() -> None:
    jobs = Jobs(httpx.Client(base_url="http://lab", transport=httpx.MockTransport(handler)))
    assert jobs.submit({"item": "x"}) == "b"
    jobs.submitted.append("a")
    assert jobs.unfinished() == {"b": "PENDING"}
    cutoff = datetime(2026, 11, 26, 8, 5, tzinfo=UTC)
    assert jobs.unfinished(created_before=cutoff) == {"b": "PENDING", "c": "DISPATCHED"}
    assert [j["id"] for j in jobs.listed("PENDING")] == ["b", "d"]
