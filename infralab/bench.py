"""`make bench`: measured numbers of a running lab, each next to its goal where the project has one.

Benchmarks, not timed tests: they print what they measured (memory, latency through nginx, job
round trip, alert noise while healthy) and the machine it ran on. Read-only toward the lab except
for GET/POST traffic through nginx (bounded) and the jobs it submits; nothing is restarted.
core-server's restart-to-healthy time is deliberately not measured here (it would restart a container).
"""

from __future__ import annotations

import math
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from python_on_whales import docker

from infralab import stack
from infralab.alerts import SlackMessage, SlackSink
from infralab.endpoints import Endpoints
from infralab.images import ImagePlan
from infralab.jobs import Jobs
from infralab.paths import ENV_FILE
from infralab.prometheus import Prometheus
from infralab.waiting import DeadlineExceededError, wait_until

MIB = 1024 * 1024
# Idle memory goals per compose service (docker stats "MEM USAGE": the cgroup's usage without page cache).
MEMORY_GOALS_MIB = {"core-1": 300.0, "core-2": 300.0, "worker-server": 30.0}
LATENCY_PATHS = ("/api/health", "/api/jobs/stats")
MAX_REQUESTS = 5000
MAX_JOBS = 500
MAX_NOISE_SECONDS = 3600
BURST_WORKERS = 8
BURST_REQUESTS = 50  # per path
JOB_TIMEOUT = 30.0  # seconds a single job may take before it counts as an error
WATCHDOG = "Watchdog"
Log = Callable[[str], None]


# --- pure parts (unit-tested) -------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def count_noise(messages: Iterable[SlackMessage]) -> dict[str, int]:
    """Slack messages other than Watchdog, by alert name ("?" for a message not in the lab's template)."""
    counts: dict[str, int] = {}
    for message in messages:
        if message.alertname == WATCHDOG:
            continue
        name = message.alertname or "?"
        counts[name] = counts.get(name, 0) + 1
    return counts


@dataclass(frozen=True)
class Row:
    section: str
    metric: str
    value: str
    goal: str = ""
    ok: bool | None = None  # None: no goal

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("ok" if self.ok else "MISSED")


def render_table(rows: Sequence[Row]) -> str:
    """A plain-text table; the section is printed once per group."""
    header = ("section", "metric", "measured", "goal", "")
    cells = []
    previous = None
    for row in rows:
        cells.append((row.section if row.section != previous else "", row.metric, row.value, row.goal, row.verdict))
        previous = row.section
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([line(header), rule, *(line(c) for c in cells)])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentiles_ms(values: Sequence[float], ps: Sequence[float]) -> str:
    return " / ".join(ms(percentile(values, p)) for p in ps)


def bounded(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    """An integer setting from the environment, clamped to [low, high]."""
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    return min(max(value, low), high)


def latency_rows(section: str, durations: Sequence[float], errors: int) -> list[Row]:
    if not durations:
        return [Row(section, "requests", f"0 answered, {errors} errors", "0 errors", errors == 0)]
    return [
        Row(section, "requests", str(len(durations) + errors)),
        Row(section, "p50 / p95 / p99", percentiles_ms(durations, (50, 95, 99))),
        Row(section, "max", ms(max(durations))),
        Row(section, "errors", str(errors), "0", errors == 0),
    ]


# --- measurements against the lab ----------------------------------------------------------------


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo")
    total = ""
    if meminfo.exists():
        kib = next(
            (int(line.split()[1]) for line in meminfo.read_text().splitlines() if line.startswith("MemTotal:")), 0
        )
        total = f"{kib / 1024 / 1024:.1f} GiB"
    os_name = ""
    release = Path("/etc/os-release")
    if release.exists():
        os_name = next(
            (
                line.split("=", 1)[1].strip('"')
                for line in release.read_text().splitlines()
                if line.startswith("PRETTY_NAME=")
            ),
            "",
        )
    return {
        "cores": str(os.cpu_count() or "?"),
        "memory": total or "?",
        "os": os_name or platform.system(),
        "kernel": platform.release(),
        "docker": str(getattr(docker.version().server, "version", None) or "?"),
    }


def lab_not_running(project: str) -> str | None:
    """Why the lab cannot be benchmarked, or None when every service of the plan is ready."""
    try:
        plan = ImagePlan.load()
    except FileNotFoundError as exc:
        return str(exc)
    states = stack.service_states(stack.compose_client(plan, project), plan.services)
    if all(s.state == "missing" for s in states.values()):
        return f"no lab is running in compose project {project!r}: start one with `make up`"
    waiting = [f"{s.service} ({s.state}/{s.health})" for s in states.values() if not s.ready]
    if waiting:
        return f"lab {project!r} is not healthy: {', '.join(waiting)} (see `make ps`)"
    return None


def memory_rows(project: str) -> list[Row]:
    containers = docker.ps(filters={"label": f"com.docker.compose.project={project}"})
    service_of = {c.name: (c.config.labels or {}).get("com.docker.compose.service", c.name) for c in containers}
    uses = sorted(docker.stats(containers=containers), key=lambda u: -u.memory_used)
    rows = []
    for use in uses:
        service = service_of.get(use.container_name, use.container_name)
        goal = MEMORY_GOALS_MIB.get(service)
        used = use.memory_used / MIB
        rows.append(
            Row(
                "idle memory",
                service,
                f"{used:.1f} MiB",
                f"<= {goal:.0f} MiB" if goal is not None else "",
                used <= goal if goal is not None else None,
            )
        )
    total = sum(u.memory_used for u in uses) / MIB
    rows.append(Row("idle memory", f"total ({len(uses)} containers)", f"{total:.1f} MiB"))
    return rows


def _timed_get(client: httpx.Client, path: str) -> float | None:
    started = time.perf_counter()
    try:
        response = client.get(path)
    except httpx.HTTPError:
        return None
    elapsed = time.perf_counter() - started
    return elapsed if response.is_success else None


def _split(results: Sequence[float | None]) -> tuple[list[float], int]:
    durations = [r for r in results if r is not None]
    errors = sum(1 for r in results if r is None)
    return durations, errors


def latency_measurements(client: httpx.Client, requests: int) -> list[Row]:
    rows = []
    for path in LATENCY_PATHS:
        _timed_get(client, path)  # warm the connection; not counted
        sequential = [_timed_get(client, path) for _ in range(requests)]
        rows += latency_rows(f"GET {path} sequential", *_split(sequential))
    with ThreadPoolExecutor(max_workers=BURST_WORKERS) as pool:
        for path in LATENCY_PATHS:
            burst = list(pool.map(_timed_get, [client] * BURST_REQUESTS, [path] * BURST_REQUESTS))
            rows += latency_rows(f"GET {path} burst x{BURST_WORKERS}", *_split(burst))
    return rows


def _server_seconds(job: dict[str, Any]) -> float | None:
    try:
        created = datetime.fromisoformat(job["created_at"])
        finished = datetime.fromisoformat(job["finished_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return (finished - created).total_seconds()


def _terminal(jobs: Jobs, job_id: str) -> dict[str, Any] | None:
    job = jobs.get(job_id)
    return job if job["status"] in ("SUCCEEDED", "FAILED") else None


def job_round_trips(client: httpx.Client, count: int) -> list[Row]:
    """Sequential: submit one job, poll it every 20 ms until terminal, then the next."""
    run = secrets.token_hex(4)
    jobs = Jobs(client)
    client_side: list[float] = []
    server_side: list[float] = []
    errors = 0
    for n in range(count):
        started = time.perf_counter()
        try:
            job_id = jobs.submit({"item": f"bench-{run}-{n}"}, key=f"bench-{run}-{n}")
            # 20 ms polling bounds the resolution of the client-side number.
            job = wait_until(
                partial(_terminal, jobs, job_id),
                timeout=JOB_TIMEOUT,
                interval=0.02,
                what=f"job {job_id} terminal",
            ).value
        except (httpx.HTTPError, ValueError, KeyError, DeadlineExceededError):
            errors += 1
            continue
        if job.get("status") != "SUCCEEDED":
            errors += 1
            continue
        client_side.append(time.perf_counter() - started)
        if (seconds := _server_seconds(job)) is not None:
            server_side.append(seconds)
    section = f"job round trip ({count} jobs)"
    rows = []
    if client_side:
        rows.append(Row(section, "POST -> SUCCEEDED seen, p50 / p95", percentiles_ms(client_side, (50, 95))))
    if server_side:
        rows.append(Row(section, "created_at -> finished_at, p50 / p95", percentiles_ms(server_side, (50, 95))))
    rows.append(Row(section, "not SUCCEEDED within 30 s / refused", str(errors), "0", errors == 0))
    return rows


def noise_rows(endpoints: Endpoints, seconds: int, log: Log) -> list[Row]:
    section = f"alert noise ({seconds} s, healthy)"
    with (
        endpoints.ops_client() as ops,
        httpx.Client(
            base_url=endpoints.base_url, timeout=10, headers={"Authorization": f"Bearer {endpoints.admin_token}"}
        ) as admin,
    ):
        traffic = admin.get("/admin/api/traffic").json()
        faults_before = admin.get("/admin/api/faults").json().get("faults") or []
        slack = SlackSink(ops)
        cursor = slack.cursor()
        log(
            f"alert noise: watching {seconds} s (synthetic traffic {'on' if traffic.get('enabled') else 'OFF'}, "
            f"{traffic.get('rate_per_second')} rps; active faults: {len(faults_before)})"
        )
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 30.0))
            if deadline - time.monotonic() > 0:
                log(f"  ... {deadline - time.monotonic():.0f} s left")
        faults_after = admin.get("/admin/api/faults").json().get("faults") or []
        slack_noise = count_noise(slack.messages(cursor))
    firing = Prometheus(endpoints).values(
        f'count by (alertname) (max_over_time(ALERTS{{alertstate="firing",alertname!="{WATCHDOG}"}}[{seconds}s]))'
    )
    firing_names = sorted(k.split("=", 1)[1] for k in firing if "=" in k)
    return [
        Row(
            section, "synthetic traffic", "on" if traffic.get("enabled") else "OFF", "on", bool(traffic.get("enabled"))
        ),
        Row(
            section,
            "faults active (start / end)",
            f"{len(faults_before)} / {len(faults_after)}",
            "0 / 0",
            not faults_before and not faults_after,
        ),
        Row(
            section,
            "Slack messages other than Watchdog",
            str(sum(slack_noise.values()))
            + (f" ({', '.join(f'{k} x{v}' for k, v in sorted(slack_noise.items()))})" if slack_noise else ""),
            "0",
            not slack_noise,
        ),
        Row(
            section,
            "ALERTS firing other than Watchdog",
            str(len(firing_names)) + (f" ({', '.join(firing_names)})" if firing_names else ""),
            "0",
            not firing_names,
        ),
    ]


@dataclass(frozen=True)
class Settings:
    project: str
    env_file: Path
    requests: int
    jobs: int
    noise_seconds: int

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            project=env.get("BENCH_PROJECT") or stack.PROJECT,
            env_file=Path(env.get("BENCH_ENV_FILE") or ENV_FILE),
            requests=bounded("BENCH_REQUESTS", env.get("BENCH_REQUESTS"), 500, 1, MAX_REQUESTS),
            jobs=bounded("BENCH_JOBS", env.get("BENCH_JOBS"), 50, 1, MAX_JOBS),
            noise_seconds=bounded("BENCH_NOISE_SECONDS", env.get("BENCH_NOISE_SECONDS"), 600, 0, MAX_NOISE_SECONDS),
        )


def run(settings: Settings, log: Log) -> int:
    """Measure, print the table; 0 when every goal held, 1 when one was missed, 2 when no lab runs."""
    reason = lab_not_running(settings.project)
    if reason:
        log(f"make bench needs a running lab: {reason}")
        return 2
    endpoints = Endpoints.from_env(settings.env_file)
    info = machine()
    log(
        f"bench: project {settings.project}, {endpoints.base_url}; {settings.requests} requests per path, "
        f"{settings.jobs} jobs, noise window {settings.noise_seconds} s"
    )
    rows = memory_rows(settings.project)  # first: idle means before the bench's own load
    with httpx.Client(base_url=endpoints.base_url, timeout=10) as client:
        log("latency: sequential and burst GETs through nginx")
        rows += latency_measurements(client, settings.requests)
        log("job round trip")
        rows += job_round_trips(client, settings.jobs)
    if settings.noise_seconds:
        rows += noise_rows(endpoints, settings.noise_seconds, log)
    log("")
    log(
        f"machine: {info['cores']} cores, {info['memory']}, {info['os']}, kernel {info['kernel']}, "
        f"Docker {info['docker']}; measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    log(render_table(rows))
    missed = [r for r in rows if r.ok is False]
    log("")
    log(f"goals missed: {', '.join(f'{r.section}: {r.metric}' for r in missed)}" if missed else "every goal held")
    return 1 if missed else 0


def main() -> int:
    return run(Settings.from_environ(), lambda m: print(m, flush=True))


if __name__ == "__main__":
    sys.exit(main())
