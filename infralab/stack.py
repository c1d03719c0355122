"""Control of the lab's Compose project: up with health waiting, down, clean, status."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import Container, DockerClient, docker
from python_on_whales.exceptions import DockerException

from infralab import versions
from infralab.components import ALL_PROFILES, COMPONENTS
from infralab.envfile import read_env
from infralab.images import ImageError, ImagePlan, Source
from infralab.nginx_config import NginxConfig, NginxConfigRefusedError
from infralab.paths import COMPOSE_FILE, ENV_FILE, IMAGES_ENV_FILE, NGINX_DIR, REPO_ROOT, WORK_DIR
from infralab.waiting import DeadlineExceededError, wait_until

PROJECT = "infralab"  # the lab `make up` runs
# The suite's own lab (`make test`): separate containers and volumes, so a test session
# never touches the data of the lab people use, and always starts from empty volumes.
TEST_PROJECT = "infralab-test"
Log = Callable[[str], None]


class StackError(RuntimeError):
    """The lab did not become healthy; the message names the container and its last logs."""


def compose_client(
    plan: ImagePlan,
    project: str = PROJECT,
    *,
    profiles: tuple[str, ...] | None = None,
    images_env: Path = IMAGES_ENV_FILE,
) -> DockerClient:
    """Compose of the lab; `images_env` other than the saved plan's: a deploy's replica on its new image."""
    return DockerClient(
        compose_files=[COMPOSE_FILE],
        compose_env_files=[ENV_FILE, images_env],
        compose_profiles=list(plan.profiles if profiles is None else profiles),
        compose_project_name=project,
        compose_project_directory=REPO_ROOT,
    )


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str  # running, exited, missing, ...
    health: str  # healthy, starting, unhealthy, none
    restarts: int = 0  # how often Docker restarted this container (its restart policy)

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
        states[service] = ServiceState(
            service, found.state.status or "unknown", health or "none", found.restart_count or 0
        )
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


def _not_healthy(
    client: DockerClient, states: dict[str, ServiceState], headline: str, restarts: int | None = None
) -> StackError:
    """Name the broken containers (else the ones still waiting) with their last log lines."""
    culprits = [s for s in states.values() if _broken(s, restarts)] or [s for s in states.values() if not s.ready]
    details = "\n".join(
        f"--- {s.service}: {s.state}/{s.health}, restarted {s.restarts}x; last log lines:\n"
        f"{_last_logs(client, s.service)}"
        for s in culprits
    )
    names = ", ".join(s.service for s in culprits) or "(no container state could be read)"
    return StackError(f"{headline}: {names}\n{details}")


def _broken(state: ServiceState, restarts: int | None) -> bool:
    """`restarts` given (a new container): restarting or restarted more often than that is a crash loop."""
    if restarts is None:
        return state.broken
    return state.broken or state.state == "restarting" or state.restarts > restarts


def wait_healthy(
    client: DockerClient, services: tuple[str, ...], log: Log, *, timeout: float = 300, restarts: int | None = None
) -> float:
    """Poll until every service is healthy, printing progress as states change; fail fast on
    an unhealthy or exited container, naming it with its last log lines. `restarts`: for new
    containers, more restarts than that is a crash loop (Docker restarts it too fast to see it exited)."""
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
        done = all(s.ready for s in states.values()) or any(_broken(s, restarts) for s in states.values())
        return states if done else None

    try:
        states = wait_until(settled, timeout=timeout, interval=1, what="every container healthy").value
    except DeadlineExceededError:
        states = last_states
    elapsed = time.monotonic() - start
    if any(not s.ready or _broken(s, restarts) for s in states.values()) or (services and not states):
        raise _not_healthy(client, states, f"lab not healthy after {elapsed:.0f}s", restarts)
    return elapsed


def start(client: DockerClient, services: tuple[str, ...], log: Log, *, timeout: float = 300) -> float:
    """`docker compose up` of these services, then wait until every one is healthy."""
    try:
        client.compose.up(
            list(services) or None, detach=True, remove_orphans=True, pull="never", no_build=True, quiet=True
        )
    except DockerException as exc:
        # `depends_on: service_healthy` makes Compose give up by itself on an unhealthy
        # dependency ("dependency failed to start"): name it and show its logs all the same.
        reason = (exc.stderr or str(exc)).strip().splitlines()[-1:] or ["no output"]
        raise _not_healthy(client, service_states(client, services), f"docker compose up failed ({reason[0]})") from exc
    return wait_healthy(client, services, log, timeout=timeout)


def build(client: DockerClient, services: tuple[str, ...], log: Log) -> None:
    """`docker compose build`, output to .lab/logs/compose-build-<first service>.log; ImageError names it."""
    log_file = WORK_DIR / "logs" / f"compose-build-{services[0]}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log(f"building {', '.join(services)} from their Dockerfiles (log {log_file})")
    with log_file.open("wb") as out:
        try:
            for _, chunk in client.compose.build(list(services), stream_logs=True):
                out.write(chunk)
        except DockerException as exc:
            out.write((exc.stderr or str(exc)).encode())
            out.flush()
            tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
            raise ImageError(f"image build of {', '.join(services)} failed (log {log_file}):\n{tail}") from exc


def start_lab(
    client: DockerClient,
    required: tuple[str, ...],
    optional: dict[str, tuple[str, ...]],
    log: Log,
    *,
    builds: dict[str, tuple[str, ...]] | None = None,
    timeouts: dict[str, float] | None = None,
    timeout: float = 300,
) -> dict[str, str]:
    """Build, start and wait for the required services (any failure raises), then for each
    optional group (a profile) the same, each on its own: a group that fails any step is
    removed and its reason returned, {group: reason}; the lab runs without it.

    `builds` maps "" (required) or a group to the services Compose builds from a Dockerfile.
    """
    builds, timeouts = builds or {}, timeouts or {}
    if builds.get(""):
        build(client, builds[""], log)
    left_out: dict[str, str] = {}
    for group in optional:
        if builds.get(group):
            try:
                build(client, builds[group], log)
            except ImageError as exc:
                left_out[group] = str(exc)
    start(client, required, log, timeout=timeout)
    started: list[str] = []
    for group, services in optional.items():
        if group in left_out:
            continue
        try:
            client.compose.up(list(services), detach=True, pull="never", no_build=True, quiet=True)
            started.append(group)
        except DockerException as exc:
            left_out[group] = _first_error_line(exc, "docker compose up failed")
    for group in started:
        try:
            wait_healthy(client, optional[group], log, timeout=timeouts.get(group, timeout))
        except StackError as exc:
            left_out[group] = str(exc)
    for group, reason in left_out.items():
        log(f"optional {group} ({', '.join(optional[group])}) left out: {reason.splitlines()[0]}")
        client.compose.rm(list(optional[group]), stop=True)
    return left_out


def _first_error_line(exc: DockerException, what: str) -> str:
    lines = (exc.stderr or str(exc)).strip().splitlines()
    return f"{what}: {lines[-1] if lines else 'no output'}"


@dataclass(frozen=True)
class StartPlan:
    """What start_lab needs from an image plan."""

    required: tuple[str, ...]
    optional: dict[str, tuple[str, ...]]  # profile -> its services
    builds: dict[str, tuple[str, ...]]  # "" (required) or profile -> services Compose builds
    timeouts: dict[str, float]  # profile -> health wait


def start_plan(plan: ImagePlan) -> StartPlan:
    groups = plan.optional_groups()
    resolved = plan.by_component()
    builds: dict[str, tuple[str, ...]] = {}
    timeouts: dict[str, float] = {}
    for c in COMPONENTS:
        source = resolved[c.name].source
        if c.profile in groups:
            timeouts[c.profile] = max(timeouts.get(c.profile, 0), c.start_timeout)
        elif c.profile:
            continue  # left out: nothing to build
        if source is Source.BUILT or (c.compose_build and source is Source.OFFICIAL):
            key = c.profile or ""
            builds[key] = (*builds.get(key, ()), *c.services)
    in_groups = {s for services in groups.values() for s in services}
    required = tuple(s for s in plan.services if s not in in_groups)
    return StartPlan(required, groups, builds, timeouts)


def up(plan: ImagePlan, log: Log, *, project: str = PROJECT, timeout: float = 300) -> ImagePlan:
    """Start the lab this plan describes; the plan returned leaves out every optional component
    that could not be built or did not become healthy (required ones raise instead)."""
    client = compose_client(plan, project)
    steps = start_plan(plan)
    left_out = start_lab(
        client, steps.required, steps.optional, log, builds=steps.builds, timeouts=steps.timeouts, timeout=timeout
    )
    reload_configs(client, log)
    for c in COMPONENTS:
        if c.versioned and plan.by_component()[c.name].source is Source.BUILT:
            versions.prune(f"infralab/{c.name}")  # Compose built it; the offline path prunes itself
    return plan.without(left_out)


# PostgreSQL and Grafana take their passwords from .env only when their volume is first
# initialised: a new .env (new random secrets) cannot open an earlier lab's volumes.
SECRET_BOUND_VOLUMES = ("postgres-data", "grafana-data")


def orphaned_volumes(project: str = PROJECT, env_file: Path = ENV_FILE) -> list[str]:
    """The project's secret-bound volumes that exist while there is no .env to open them."""
    if env_file.exists():
        return []
    return [name for volume in SECRET_BOUND_VOLUMES if docker.volume.exists(name := f"{project}_{volume}")]


# Bind-mounted configuration changes do not recreate containers: `make up` reloads them
# in place (each reload validates first and keeps the old configuration on error). nginx serves
# a tested copy of its folder (nginx_config.py).
RELOADS = {
    "prometheus": ["wget", "-qO", "/dev/null", "--post-data=", "http://127.0.0.1:9090/prometheus/-/reload"],
    "alertmanager": ["wget", "-qO", "/dev/null", "--post-data=", "http://127.0.0.1:9093/alertmanager/-/reload"],
}


def reload_configs(client: DockerClient, log: Log) -> None:
    try:
        NginxConfig(client.compose.ps(["nginx"])[0].name).apply(NGINX_DIR)
    except NginxConfigRefusedError as exc:
        raise StackError(f"nginx/ was not applied: {exc}") from exc
    for service, command in RELOADS.items():
        client.compose.execute(service, command, tty=False)
    log(f"configuration reloaded: nginx, {', '.join(RELOADS)}")


def down(plan: ImagePlan, *, project: str = PROJECT, volumes: bool = False) -> None:
    """Stop and remove every container of the project, of every profile (whatever this plan runs:
    a Jenkins the plan left out would otherwise keep the project's fixed-subnet networks)."""
    client = compose_client(plan, project, profiles=ALL_PROFILES)
    client.compose.down(remove_orphans=True, volumes=volumes, timeout=20)


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
