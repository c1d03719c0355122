"""Log selectors: the same selector as LogQL (Loki) and as a predicate on container log lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infralab.logs import (
    ContainerLogs,
    LogSelector,
    LokiLogs,
    choose_log_source,
    match_container_lines,
    parse_docker_timestamp,
    shipped_projects,
)

pytestmark = pytest.mark.unit

ERROR = {
    "ts": "2026-11-26T08:00:01.5Z",
    "level": "error",
    "service": "core-server",
    "msg": "job failed",
    "job_id": "j1",
}


@pytest.mark.parametrize(
    ("selector", "logql"),
    [
        (LogSelector("core-1"), '{project="infralab", service="core-1"}'),
        (LogSelector("core-1", contains="job failed"), '{project="infralab", service="core-1"} |= "job failed"'),
        (
            LogSelector("nginx", regex=r'"status":\s*50[24]'),
            r'{project="infralab", service="nginx"} |~ "\"status\":\\s*50[24]"',
        ),
        (
            LogSelector("core-1", contains="job", fields={"level": "error", "job_id": "j1"}),
            '{project="infralab", service="core-1"} |= "job" | json | level_extracted="error" | job_id="j1"',
        ),
        # The JSON `service` (core-server) is not the stream label `service` (core-1).
        (
            LogSelector("core-2", fields={"service": "core-server"}),
            '{project="infralab", service="core-2"} | json | service_extracted="core-server"',
        ),
    ],
)
def test_selector_becomes_logql(selector: LogSelector, logql: str) -> None:
    assert selector.to_logql("infralab") == logql


def test_field_names_must_be_label_names() -> None:
    with pytest.raises(ValueError, match="label names"):
        LogSelector("core-1", fields={"error.type": "x"})


def test_json_line_matching() -> None:
    line = json.dumps(ERROR)
    assert LogSelector("core-1", fields={"level": "error", "job_id": "j1"}).match(line) == ERROR
    assert LogSelector("core-1", contains="job failed", regex=r"j\d").match(line) == ERROR
    assert LogSelector("core-1", fields={"level": "info"}).match(line) is None
    assert LogSelector("core-1", fields={"missing": "x"}).match(line) is None
    assert LogSelector("core-1", contains="nope").match(line) is None
    assert LogSelector("core-1", regex=r"^\{\"x").match(line) is None


def test_non_json_lines_match_only_without_field_filters() -> None:
    assert LogSelector("nginx", contains="starting").match("nginx starting up") == {}
    assert LogSelector("nginx", contains="starting", fields={"level": "error"}).match("nginx starting up") is None


def test_field_values_compare_as_logql_labels() -> None:
    line = json.dumps({"status": 502, "cached": False})
    assert LogSelector("nginx", fields={"status": "502", "cached": "false"}).match(line) is not None


def test_container_lines_since_an_instant() -> None:
    text = "\n".join(
        [
            "2026-11-26T08:00:00.999999999Z " + json.dumps({**ERROR, "job_id": "early"}),
            "2026-11-26T08:00:01.500000000Z " + json.dumps(ERROR),
            "2026-11-26T08:00:02.000000000Z " + json.dumps({**ERROR, "level": "info"}),
            "not a docker line",
        ]
    )
    since = datetime(2026, 11, 26, 8, 0, 1, tzinfo=UTC)
    found = match_container_lines(LogSelector("core-1", fields={"level": "error"}), text, since)
    assert [(f.record["job_id"], f.backend) for f in found] == [("j1", "container")]
    assert found[0].at == datetime(2026, 11, 26, 8, 0, 1, 500000, tzinfo=UTC)


def test_docker_timestamps() -> None:
    assert parse_docker_timestamp("2026-11-26T08:00:01Z") == datetime(2026, 11, 26, 8, 0, 1, tzinfo=UTC)
    assert parse_docker_timestamp("2026-11-26T10:00:01.123456789+02:00") == datetime(
        2026, 11, 26, 8, 0, 1, 123456, tzinfo=UTC
    )
    assert parse_docker_timestamp("garbage") is None


def _loki(handler: Any) -> httpx.Client:
    return httpx.Client(base_url="http://lab", transport=httpx.MockTransport(handler))


def test_loki_query_range_answers_with_the_oldest_line_first() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        streams = [
            {"stream": {"service": "core-1"}, "values": [["1795680002000000000", json.dumps(ERROR)]]},
            {"stream": {"service": "core-1"}, "values": [["1795680001000000000", "plain"]]},
        ]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "streams", "result": streams}})

    since = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    lines = LokiLogs(_loki(handler), "infralab").search(LogSelector("core-1", contains="job"), since)
    assert [line.line for line in lines] == ["plain", json.dumps(ERROR)]
    assert {line.backend for line in lines} == {"loki"}
    assert seen[0].url.path == "/loki/api/v1/query_range"
    assert seen[0].url.params["query"] == '{project="infralab", service="core-1"} |= "job"'
    assert seen[0].url.params["start"] == str(int(since.timestamp()) * 10**9)


def test_wait_for_records_what_it_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        result = [{"stream": {}, "values": [["1795680002000000000", json.dumps(ERROR)]]}]
        return httpx.Response(200, json={"data": {"result": result}})

    source = LokiLogs(_loki(handler), "infralab")
    line = source.wait_for(LogSelector("core-1"), since=datetime.now(UTC), timeout=1)
    assert source.found == [line]


@dataclass
class FakeLab:
    project: str


def test_loki_answers_only_for_the_project_alloy_ships() -> None:
    assert shipped_projects() == {"infralab", "infralab-test"}
    ready = _loki(lambda r: httpx.Response(200, json={"version": "3.3.2"}))
    down = _loki(lambda r: httpx.Response(502, json={"error": "bad_gateway"}))
    assert isinstance(choose_log_source(FakeLab("infralab"), ready), LokiLogs)  # type: ignore[arg-type]
    assert isinstance(choose_log_source(FakeLab("infralab"), down), ContainerLogs)  # type: ignore[arg-type]
    assert isinstance(choose_log_source(FakeLab("infralab-test"), ready), LokiLogs)  # type: ignore[arg-type]
    assert isinstance(choose_log_source(FakeLab("someone-else"), ready), ContainerLogs)  # type: ignore[arg-type]
