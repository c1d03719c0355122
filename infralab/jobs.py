"""core-server's jobs API through nginx, remembering what the suite submitted.

"No job lost" after a drill means: every job accepted before the recovery reached a terminal
status (core-server/.../JobStatus.java: PENDING -> DISPATCHED -> SUCCEEDED | FAILED).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

TERMINAL = frozenset({"SUCCEEDED", "FAILED"})
NON_TERMINAL = ("PENDING", "DISPATCHED")
_PAGE = 100  # the API's maximum page size
_MAX_PAGES = 20  # a drill's backlog is far below 2000 jobs; stop rather than crawl forever


class Jobs:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.submitted: list[str] = []

    def submit(self, payload: dict[str, Any] | None = None, *, job_type: str = "quote", key: str | None = None) -> str:
        headers = {"Idempotency-Key": key} if key else {}
        response = self.client.post("/api/jobs", json={"type": job_type, "payload": payload or {}}, headers=headers)
        response.raise_for_status()
        job_id = str(response.json()["id"])
        self.submitted.append(job_id)
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/jobs/{job_id}")
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        return job

    def listed(self, status: str) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params: dict[str, str | int] = {"status": status, "limit": _PAGE}
            if cursor:
                params["cursor"] = cursor
            response = self.client.get("/api/jobs", params=params)
            response.raise_for_status()
            body = response.json()
            jobs += body["items"]
            cursor = body.get("next_cursor")
            if not cursor:
                break
        return jobs

    def unfinished(self, *, created_before: datetime | None = None) -> dict[str, str]:
        """Non-terminal jobs as {id: status}: the suite's own, plus any created before the cut-off.

        The cut-off catches jobs others submitted during the drill (people at /admin/, other
        clients); jobs created after it may legitimately still be running.
        """
        stuck = {j: s for j in self.submitted if (s := self.get(j)["status"]) not in TERMINAL}
        if created_before is not None:
            for status in NON_TERMINAL:
                for job in self.listed(status):
                    if datetime.fromisoformat(job["created_at"]) < created_before:
                        stuck[job["id"]] = job["status"]
        return stuck
