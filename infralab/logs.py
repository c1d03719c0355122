"""Log assertions: one selector, answered by Loki where it runs and by container logs where not.

Services log one JSON object per line (DESIGN.md), so a selector is a service, a substring or
regex on the raw line, and equality on JSON fields. The same selector becomes LogQL for Loki and
a Python predicate for `docker logs`, and every match says which backend found it (the report
names it: a drill that passed on container logs says nothing about the Loki pipeline).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from infralab.lab import Lab
from infralab.paths import REPO_ROOT
from infralab.waiting import wait_until

ALLOY_CONFIG = REPO_ROOT / "monitoring" / "alloy" / "config.alloy"
# Stream labels Alloy attaches (monitoring/alloy/config.alloy). A JSON field of the same name
# comes out of `| json` as <name>_extracted, so field filters must use that name.
STREAM_LABELS = frozenset({"project", "service", "container", "level"})
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class LogSelector:
    service: str  # compose service (core-1, worker, nginx): Alloy's `service` label
    contains: str | None = None  # substring of the raw line
    regex: str | None = None  # on the raw line; keep to the RE2 subset (Loki) Python also reads
    fields: Mapping[str, str] = field(default_factory=dict)  # JSON field equality, top level

    def __post_init__(self) -> None:
        bad = [k for k in self.fields if not _LABEL_NAME.match(k)]
        if bad:
            raise ValueError(f"JSON field names must be label names for LogQL: {bad}")

    def to_logql(self, project: str) -> str:
        """LogQL for this selector in one lab: both labs ship to the same Loki with the same service names."""
        query = f"{{project={_quote(project)}, service={_quote(self.service)}}}"
        if self.contains is not None:
            query += f" |= {_quote(self.contains)}"
        if self.regex is not None:
            query += f" |~ {_quote(self.regex)}"
        if self.fields:
            query += " | json"
            for key, value in self.fields.items():
                label = f"{key}_extracted" if key in STREAM_LABELS else key
                query += f" | {label}={_quote(value)}"
        return query

    def match(self, line: str) -> dict[str, Any] | None:
        """The line's JSON object (empty for a plain line) when it matches, else None."""
        if self.contains is not None and self.contains not in line:
            return None
        if self.regex is not None and not re.search(self.regex, line):
            return None
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            return None if self.fields else {}
        if any(_as_label(record.get(k)) != v for k, v in self.fields.items()):
            return None
        return record

    def describe(self) -> str:
        parts = [self.service]
        parts += [f"contains {self.contains!r}"] if self.contains is not None else []
        parts += [f"matches /{self.regex}/"] if self.regex is not None else []
        parts += [f"{k}={v!r}" for k, v in self.fields.items()]
        return " ".join(parts)


def _quote(value: str) -> str:
    # LogQL strings are Go double-quoted strings: JSON's escaping is a valid subset.
    return json.dumps(value, ensure_ascii=False)


def _as_label(value: object) -> str | None:
    # `| json` turns every value into a string label; compare the same way (true, 42, "x").
    if value is None:
        return None
    return json.dumps(value) if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class LogLine:
    at: datetime  # when the container wrote it (UTC)
    line: str
    record: dict[str, Any]
    backend: str  # "loki" | "container"


class LogSource(ABC):
    name: str

    def __init__(self) -> None:
        self.found: list[LogLine] = []  # every line a wait matched, for the incident report

    @abstractmethod
    def search(self, selector: LogSelector, since: datetime) -> list[LogLine]:
        """Matching lines written at or after `since`, oldest first."""

    def wait_for(self, selector: LogSelector, *, since: datetime, timeout: float) -> LogLine:
        def probe() -> LogLine | None:
            return next(iter(self.search(selector, since)), None)

        line = wait_until(probe, timeout=timeout, interval=1.0, what=f"log line ({self.name}): {selector.describe()}")
        self.found.append(line.value)
        return line.value


class LokiLogs(LogSource):
    name = "loki"

    def __init__(self, client: httpx.Client, project: str, *, prefix: str = "") -> None:
        super().__init__()
        self.client = client
        self.project = project  # the compose project whose lines count
        self.prefix = prefix  # "" when the client's base URL is Loki or nginx routes /loki/ as is

    def ready(self) -> bool:
        try:
            response = self.client.get(f"{self.prefix}/loki/api/v1/status/buildinfo")
            return response.status_code == 200 and "version" in response.json()
        except (httpx.HTTPError, ValueError):
            return False

    def search(self, selector: LogSelector, since: datetime) -> list[LogLine]:
        params: dict[str, str | int] = {
            "query": selector.to_logql(self.project),
            "start": _nanos(since),
            "end": _nanos(datetime.now(UTC)),
            "direction": "forward",
            "limit": 100,
        }
        response = self.client.get(f"{self.prefix}/loki/api/v1/query_range", params=params)
        response.raise_for_status()
        return parse_loki_streams(response.json())


def parse_loki_streams(body: Mapping[str, Any]) -> list[LogLine]:
    """Lines of a query_range answer over all streams, oldest first."""
    lines = []
    for stream in body["data"]["result"]:
        for nanos, text in stream["values"]:
            try:
                record = json.loads(text)
            except ValueError:
                record = {}
            at = datetime.fromtimestamp(int(nanos) / 1e9, UTC)
            lines.append(LogLine(at, text, record if isinstance(record, dict) else {}, "loki"))
    return sorted(lines, key=lambda line: line.at)


def _nanos(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000_000)


class ContainerLogs(LogSource):
    """The selector evaluated on `docker logs` of the service's container."""

    name = "container"

    def __init__(self, lab: Lab) -> None:
        super().__init__()
        self.lab = lab

    def search(self, selector: LogSelector, since: datetime) -> list[LogLine]:
        container = self.lab.container(selector.service)
        text = str(self.lab.compose.container.logs(container, since=since, timestamps=True))
        return match_container_lines(selector, text, since)


def match_container_lines(selector: LogSelector, text: str, since: datetime) -> list[LogLine]:
    """`docker logs --timestamps` output: '<RFC 3339 nanos> <line>' per line."""
    found = []
    for raw in text.splitlines():
        stamp, _, line = raw.partition(" ")
        at = parse_docker_timestamp(stamp)
        # docker's --since is whole seconds on some engines: filter again to the instant.
        if at is None or at < since:
            continue
        record = selector.match(line)
        if record is not None:
            found.append(LogLine(at, line, record, "container"))
    return found


def parse_docker_timestamp(stamp: str) -> datetime | None:
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", stamp)
    if not match:
        return None
    fraction = (match[2] or "0")[:6].ljust(6, "0")  # nanoseconds: datetime keeps micro
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}").astimezone(UTC)


def shipped_projects(config: Path = ALLOY_CONFIG) -> set[str]:
    """Compose projects whose logs Alloy ships to Loki (the `keep` rule on the project label)."""
    if not config.exists():
        return set()
    keep = re.search(
        r'"__meta_docker_container_label_com_docker_compose_project"\]\s*regex\s*=\s*"([^"]+)"\s*action\s*=\s*"keep"',
        config.read_text(),
    )
    return set(keep[1].split("|")) if keep else set()


def choose_log_source(lab: Lab, client: httpx.Client, *, prefix: str = "") -> LogSource:
    """Loki when it answers and receives this lab's logs; the containers' own logs otherwise.

    Loki is optional (the `logs` profile, absent offline), and Alloy ships only the compose
    projects its config keeps (the people's lab and the suite's own).
    """
    loki = LokiLogs(client, lab.project, prefix=prefix)
    if lab.project in shipped_projects() and loki.ready():
        return loki
    return ContainerLogs(lab)
