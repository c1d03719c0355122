"""Control of the lab's Compose project: up with health waiting, down, clean, status."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import Container, DockerClient, docker
from python_on_whales.exceptions import DockerException

from infralab.components import COMPONENTS
from infralab.envfile import read_env
from infralab.images import ImagePlan, Source
from infralab.paths import COMPOSE_FILE, ENV_FILE, IMAGES_ENV_FILE, REPO_ROOT
from infralab.waiting import DeadlineExceededError, wait_until

PROJECT = "infralab"  # the lab `make up` runs
# The suite's own lab (`make test`): separate containers and volumes, so a test session
# never touches the data of the lab people use, and always starts from empty volumes.
TEST_PROJECT = "infralab-test"
Log = Callable[[str], None]


class StackError(RuntimeError):
    """The lab did not become healthy; the message names the container and its last logs."""


def compose_client(plan: ImagePlan, project: str = PROJECT) -> DockerClient:
    return DockerClient(
        compose_files=[COMPOSE_FILE],
        compose_env_files=[ENV_FILE, IMAGES_ENV_FILE],
        compose_profiles=list(plan.profiles),
        compose_project_name=project,
        compose_project_directory=REPO_ROOT,
    )


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str  # running, exited, missing, ...
    health: str  # healthy, starting, unhealthy, none

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "none")

    @property
    def broken(self) -> bool:
        return self.health == "unhealthy" or self.state in ("exited", "dead")


def service_states(client: DockerClient, services: tuple[str, ...]) -> dict[str, ServiceState]:
    by_service: dict[str, Container] = {}
    for container in client.compose.ps(all=True):
        labels = container.config.labels or {}
        by_service[labels.get("com.docker.compose.service", container.name)] = container
    states = {}
    for service in services:
        found = by_service.get(service)
        if found is None:
            states[service] = ServiceState(service, "missing", "none")
            continue
        health = found.state.health.status if found.state.health else "none"
        states[service] = ServiceState(service, found.state.status or "unknown", health or "none")
    return states


def _last_logs(client: DockerClient, service: str, lines: int = 30) -> str:
    try:
        return str(client.compose.logs([service], tail=str(lines), no_log_prefix=True))
    except Exception as exc:  # noqa: BLE001 - best effort while reporting another failure
        return f"(logs unavailable: {exc})"


def _progress_line(states: dict[str, ServiceState], total: int) -> str:
    waiting = [s for s in states.values() if not s.ready]
    pending = ", ".join(f"{s.service} ({s.health if s.state == 'running' else s.state})" for s in waiting)
    return f"healthy {total - len(waiting)}/{total}" + (f"; waiting for {pending}" if pending else "")


def _not_healthy(client: DockerClient, states: dict[str, ServiceState], headline: str) -> StackError:
    """Name the broken containers (else the ones still waiting) with their last log lines."""
    culprits = [s for s in states.values() if s.broken] or [s for s in states.values() if not s.ready]
    details = "\n".join(
        f"--- {s.service}: {s.state}/{s.health}; last log lines:\n{_last_logs(client, s.service)}" for s in culprits
    )
    names = ", ".join(s.service for s in culprits) or "(no container state could be read)"
    return StackError(f"{headline}: {names}\n{details}")


def wait_healthy(client: DockerClient, services: tuple[str, ...], log: Log, *, timeout: float = 300) -> float:
    """Poll until every service is healthy, printing progress as states change; fail fast on
    an unhealthy or exited container, naming it with its last log lines."""
    start = time.monotonic()
    last_states: dict[str, ServiceState] = {}
    last_line = ""

    def settled() -> dict[str, ServiceState] | None:
        nonlocal last_line, last_states
        states = last_states = service_states(client, services)
        line = _progress_line(states, len(services))
        if line != last_line:
            log(f"[{time.monotonic() - start:5.1f}s] {line}")
            last_line = line
        done = all(s.ready for s in states.values()) or any(s.broken for s in states.values())
        return states if done else None

    try:
        states = wait_until(settled, timeout=timeout, interval=1, what="every container healthy").value
    except DeadlineExceededError:
        states = last_states
    elapsed = time.monotonic() - start
    if any(not s.ready for s in states.values()) or (services and not states):
        raise _not_healthy(client, states, f"lab not healthy after {elapsed:.0f}s")
    return elapsed


def start(client: DockerClient, services: tuple[str, ...], log: Log, *, timeout: float = 300) -> float:
    """`docker compose up`, then wait until every service is healthy."""
    try:
        client.compose.up(detach=True, remove_orphans=True, pull="never", build=False, quiet=True)
    except DockerException as exc:
        # `depends_on: service_healthy` makes Compose give up by itself on an unhealthy
        # dependency ("dependency failed to start"): name it and show its logs all the same.
        reason = (exc.stderr or str(exc)).strip().splitlines()[-1:] or ["no output"]
        raise _not_healthy(client, service_states(client, services), f"docker compose up failed ({reason[0]})") from exc
    return wait_healthy(client, services, log, timeout=timeout)


def up(plan: ImagePlan, log: Log, *, project: str = PROJECT, timeout: float = 300) -> float:
    client = compose_client(plan, project)
    to_build = [c.name for c in COMPONENTS if plan.by_component()[c.name].source is Source.BUILT]
    if to_build:
        log(f"building {', '.join(to_build)} from their Dockerfiles")
        client.compose.build(to_build)
    elapsed = start(client, plan.services, log, timeout=timeout)
    reload_configs(client, log)
    return elapsed


# PostgreSQL and Grafana take their passwords from .env only when their volume is first
# initialised: a new .env (new random secrets) cannot open an earlier lab's volumes.
SECRET_BOUND_VOLUMES = ("postgres-data", "grafana-data")


def orphaned_volumes(project: str = PROJECT, env_file: Path = ENV_FILE) -> list[str]:
    """The project's secret-bound volumes that exist while there is no .env to open them."""
    if env_file.exists():
        return []
    return [name for volume in SECRET_BOUND_VOLUMES if docker.volume.exists(name := f"{project}_{volume}")]


# Bind-mounted configuration changes do not recreate containers: `make up` reloads them
# in place (each reload validates first and keeps the old configuration on error).
RELOADS = {
    "nginx": ["nginx", "-s", "reload"],
    "prometheus": ["wget", "-qO", "/dev/null", "--post-data=", "http://127.0.0.1:9090/prometheus/-/reload"],
    "alertmanager": ["wget", "-qO", "/dev/null", "--post-data=", "http://127.0.0.1:9093/alertmanager/-/reload"],
}


def reload_configs(client: DockerClient, log: Log) -> None:
    for service, command in RELOADS.items():
        client.compose.execute(service, command, tty=False)
    log(f"configuration reloaded: {', '.join(RELOADS)}")


def down(plan: ImagePlan, *, project: str = PROJECT, volumes: bool = False) -> None:
    compose_client(plan, project).compose.down(remove_orphans=True, volumes=volumes, timeout=20)


def urls() -> dict[str, str]:
    base = read_env().get("LAB_PUBLIC_URL") or "http://127.0.0.1:8080"
    return {
        "API (core-server)": f"{base}/api/health",
        "Admin (admin-server)": f"{base}/admin/",
        "Grafana": f"{base}/grafana/",
        "Prometheus": f"{base}/prometheus/",
        "Alertmanager API": f"{base}/alertmanager/api/v2/status",
        "Slack stand-in": f"{base}/slack-sink/records",
        "Sentry stand-in": f"{base}/sentry-sink/records",
        "Jenkins": f"{base}/jenkins/",
    }
