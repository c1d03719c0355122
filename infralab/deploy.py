"""Deploys of the lab's own services: `make deploy s=<service> [ref=<git ref>]`, `make rollback`.

A deploy builds the service at a git ref (default: the working tree) through the image path `make
up` took, then replaces its containers one at a time. Each replacement passes its gates before the
next one starts:
- healthy: Docker's health check passes (a crash loop fails at once, a slow start at the deadline);
- routed (core-server's replicas, behind nginx): nginx sends it a request again;
- slo (the same replicas): over an observation window, its 5xx ratio and p99 in nginx's access log
  stay within the /api SLO (docs/observability/slo.md).
A replica behind nginx leaves the rotation before it is stopped, so no request is sent to a
stopping container, and rejoins it only once healthy. A gate that fails rolls every replaced
container back to the image it replaced; the deploy then fails, naming the gate and its evidence.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from infralab import versions
from infralab.alerts import Alertmanager
from infralab.bench import percentile
from infralab.components import COMPONENTS, Component
from infralab.deploy_events import DeployEvents, read_deploy_log
from infralab.images import ImageBuilder, ImageError, ImagePlan, Source, image_exists
from infralab.lab import Lab
from infralab.logs import ContainerLogs, LogSelector
from infralab.nginx_config import NginxConfig, NginxConfigRefusedError
from infralab.paths import REPO_ROOT, WORK_DIR
from infralab.prometheus import Prometheus
from infralab.rollout import PROBE_PATHS, UPSTREAMS_CONF, balanced_peers, wait_back_in_rotation
from infralab.stack import StackError, compose_client, wait_healthy
from infralab.waiting import DeadlineExceededError, wait_until

Log = Callable[[str], None]
DEPLOY_DIR = WORK_DIR / "deploy"
WORKTREE = DEPLOY_DIR / "worktree"  # one checkout for every ref: Cargo's target stays warm
# Build outputs a checkout keeps between refs, seeded from the repository's own build the first time
# (only the profile the images use): the crates.io dependencies are compiled already, and only the
# worker's own crate is (a cold release build takes minutes on 2 cores; seeded, about 15 s).
KEPT_BUILD_CACHES = {"/worker-server/target/": "worker-server/target/release"}
# The /api SLO (monitoring/prometheus/rules/slo.yml): 99.5% without a 5xx, 99% within 500 ms.
SLO_MAX_ERROR_RATIO = 0.005
SLO_P99_SECONDS = 0.5
# Requests a replica answers from inside its container before it rejoins the rotation (_warm_up).
WARM_UP_PATHS = {"core_server": ("/api/health", "/api/jobs/stats")}
WARM_UP_ROUNDS = 100
# The alerts a replaced container raises by being down (monitoring/prometheus/rules/lab-alerts.yml).
TARGET_DOWN_ALERTS = "CoreReplicaDown|ServiceScrapeDown"


@dataclass(frozen=True)
class Release:
    """An image of one version of one of our services."""

    service: str  # the component, e.g. core-server
    image: str
    version: str
    commit: str


@dataclass(frozen=True)
class Gates:
    healthy_timeout: float = 180  # a JVM start on 2 busy cores takes ~60 s
    routed_timeout: float = 30
    window: float = 10  # the observation window of the slo gate (at 60 requests/s, ~300 reach the replica)
    probe_interval: float = 0.2  # the deploy's own requests during the window, beside everyone else's
    reading_interval: float = 2  # how often the window's access log is read
    min_requests: int = 20
    max_error_ratio: float = SLO_MAX_ERROR_RATIO
    max_p99: float = SLO_P99_SECONDS


STEP_ERRORS = (DockerException, httpx.HTTPError, ValueError, LookupError, NginxConfigRefusedError)


class DeployError(RuntimeError):
    """The deploy did not happen (bad input, a failed build, another deploy running)."""


class GateFailedError(RuntimeError):
    def __init__(self, gate: str, replica: str, evidence: str) -> None:
        super().__init__(f"gate {gate} failed on {replica}:\n{evidence}")
        self.gate, self.replica, self.evidence = gate, replica, evidence


class RolledBackError(RuntimeError):
    """A gate failed and the previous version serves again."""

    def __init__(self, failure: GateFailedError, release: Release, previous: Release, seconds: float) -> None:
        super().__init__(
            f"{release.service} {release.version} was rolled back to {previous.version} after {seconds:.0f}s: {failure}"
        )
        self.failure, self.seconds = failure, seconds


def deployable(service: str) -> Component:
    names = [c.name for c in COMPONENTS if c.versioned]
    for component in COMPONENTS:
        if component.name == service and component.versioned:
            return component
    raise DeployError(f"not a deployable service: {service!r} (deployable: {', '.join(names)})")


def current(plan: ImagePlan, component: Component) -> Release:
    r = plan.by_component()[component.name]
    if not r.image:
        raise DeployError(f"{component.name} has no image in this lab's plan: run `make up` first")
    return Release(component.name, r.image, r.version, r.commit)


def _git(*args: str, cwd: Path = REPO_ROOT) -> str:
    try:
        result = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise DeployError(f"git {' '.join(args)} did not finish in 120 s") from None
    if result.returncode != 0:
        raise DeployError(f"git {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout.strip()


def checkout(ref: str) -> Path:
    """The deploy worktree at `ref`: a detached, clean checkout (only Cargo's target survives, see below)."""
    try:
        commit = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except DeployError:
        raise DeployError(f"not a commit in this repository: {ref!r}") from None
    if not (WORKTREE / ".git").exists():
        _git("worktree", "prune")
        WORKTREE.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", "--force", str(WORKTREE), commit)
    else:
        _git("checkout", "--detach", "--force", commit, cwd=WORKTREE)
    # Build outputs go too: Maven copies resources into target/classes and never deletes one the
    # ref no longer has (a migration of another ref would ship in this one's jar). Cargo's target
    # stays: it tracks its sources itself, and a cold release build takes minutes.
    _git("clean", "-ffdxq", *(f"--exclude={keep}" for keep in KEPT_BUILD_CACHES), cwd=WORKTREE)
    for seed in KEPT_BUILD_CACHES.values():
        seed_build_cache(REPO_ROOT / seed, WORKTREE / seed)
    return WORKTREE


def seed_build_cache(source: Path, target: Path) -> None:
    """A copy of `source` at `target` unless `target` is there already (then it is the checkout's own)."""
    if target.exists() or not source.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".seeding")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, symlinks=True)
    partial.rename(target)  # a copy cut short is never taken for a cache


def build(component: Component, ref: str | None, source: Source, say: Log) -> Release:
    """The image of `component` at `ref` (None: the working tree), built the way `make up` built it."""
    root = REPO_ROOT if ref is None else checkout(ref)
    at = component.at(root)
    version = versions.source_version(at.source_dir, repo=root)
    image = f"infralab/{component.name}:{version.version}"
    release = Release(component.name, image, version.version, version.commit)
    if versions.is_release(version.version) and image_exists(image):
        say(f"{component.name} {version.version}: image {image} is kept, no build")
        return release
    say(f"building {component.name} {version.version} from {ref or 'the working tree'} ({source.value} path)")
    if source is Source.BUILT:
        ImageBuilder(say).online_image(at, version)
    else:
        ImageBuilder(say).offline(at, version)
    return release


@contextmanager
def deploy_lock() -> Iterator[None]:
    DEPLOY_DIR.mkdir(parents=True, exist_ok=True)
    with (DEPLOY_DIR / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployError("another deploy or rollback is running on this lab") from None
        lock.write(str(os.getpid()))
        lock.flush()
        yield


@dataclass
class Rollout:
    """Replaces a service's containers one at a time, gated; rolls back what it replaced on a failure."""

    lab: Lab
    client: httpx.Client
    component: Component
    gates: Gates
    events: DeployEvents

    def run(self, release: Release, previous: Release) -> float:
        """Seconds it took; RolledBackError when a gate failed (the previous version serves again)."""
        started = time.monotonic()
        replaced: list[str] = []
        self.events.event("started", f"{self.component.name}: {previous.version} -> {release.version}")
        try:
            for replica in self.component.services:
                replaced.append(replica)
                self._replace_or_fail(replica, release, observe=True)
                self.events.event("replica_swapped", f"{replica} runs {release.version}", replica=replica)
        except GateFailedError as failure:
            self.events.event(
                "gate_failed", f"{failure.replica}: gate {failure.gate} failed", gate=failure.gate,
                replica=failure.replica, evidence=failure.evidence,
            )  # fmt: skip
            self._roll_back(replaced, previous)
            seconds = time.monotonic() - started
            self.events.rolled_back(seconds, failure.gate, failure.evidence)
            raise RolledBackError(failure, release, previous, seconds) from None
        seconds = time.monotonic() - started
        self.lab.plan = self.lab.plan.with_image(release.service, release.image, release.version, release.commit)
        self.lab.plan.save()
        self.events.finished(seconds)
        return seconds

    def _roll_back(self, replaced: list[str], previous: Release) -> None:
        for replica in reversed(replaced):
            try:
                self._replace_or_fail(replica, previous, observe=False)
            except GateFailedError as failure:
                self.events.rollback_failed(replica, failure.gate, failure.evidence)
                raise
            self.events.event("replica_swapped", f"{replica} runs {previous.version} again", replica=replica)

    def _replace_or_fail(self, replica: str, release: Release, *, observe: bool) -> None:
        try:
            self._replace(replica, release, observe=observe)
        except STEP_ERRORS as exc:
            # Not a gate's verdict but a step that broke (Docker, nginx, Alertmanager, a probe timing out on
            # a version too slow to answer): handled like a failed gate.
            raise GateFailedError("step", replica, f"{type(exc).__name__}: {exc}") from exc

    def _replace(self, replica: str, release: Release, *, observe: bool) -> None:
        peers = balanced_peers(UPSTREAMS_CONF.read_text())
        nginx = NginxConfig(self.lab.container("nginx").name)
        if replica in peers:
            nginx.set_serving(replica, serving=False)  # graceful reload: requests in flight finish
            self.events.event("drained", f"{replica} out of nginx's rotation", replica=replica)
        client = self._compose_on(release)
        with self._planned_downtime(replica, release):
            client.compose.up(
                [replica], detach=True, dependencies=False, force_recreate=True, no_build=True, pull="never", quiet=True
            )
            try:
                # A new container: one restart is already a crash (Docker's restart policy hides the exit).
                wait_healthy(client, (replica,), self.events.say, timeout=self.gates.healthy_timeout, restarts=0)
            except StackError as exc:
                raise GateFailedError("healthy", replica, str(exc)) from None
        self.events.event("gate_passed", f"{replica} healthy on {release.version}", replica=replica, gate="healthy")
        if replica not in peers:
            return
        group, port = peers[replica]
        self._warm_up(replica, port, WARM_UP_PATHS[group])
        nginx.set_serving(replica, serving=True)
        try:
            wait_back_in_rotation(self.lab, self.client, replica, port, PROBE_PATHS[group], self.gates.routed_timeout)
        except DeadlineExceededError as exc:
            raise GateFailedError("routed", replica, f"{exc}\n{self._last_lines(replica)}") from None
        self.events.event("gate_passed", f"{replica} back in nginx's rotation", replica=replica, gate="routed")
        if observe:
            self._slo_gate(replica, f"{self.lab.address(replica)}:{port}", PROBE_PATHS[group])

    @contextmanager
    def _planned_downtime(self, replica: str, release: Release) -> Iterator[None]:
        """A replaced container's target-down alert is the deploy's own doing: silenced while it is
        replaced, expired once it is healthy and the alert is gone. A failed one keeps the silence until
        it ends by itself (its health deadline and a minute): the rollback replaces that container anyway."""
        alertmanager = self.events.alertmanager
        silence = alertmanager.silence(
            {"container": replica},
            regex={"alertname": TARGET_DOWN_ALERTS},
            until=datetime.now(UTC) + timedelta(seconds=self.gates.healthy_timeout + 60),
            by="make deploy",
            comment=f"{replica} is being replaced by {release.service} {release.version}",
        )
        yield  # a failed replacement keeps its silence: the rollback replaces the container again
        self._wait_quiet(replica)
        alertmanager.expire(silence)

    def _wait_quiet(self, replica: str) -> None:
        """Until no target-down alert of it is pending or firing (its target is scraped again): a silence
        expired earlier would let the alert's notification out after all."""
        selector = f'container="{replica}", alertname=~"{TARGET_DOWN_ALERTS}"'
        expr = f"count(ALERTS{{{selector}}}) or vector(0)"
        try:
            wait_until(lambda: Prometheus(self.lab.endpoints).value(expr) == 0, timeout=90, interval=2,
                       what=f"no target-down alert of {replica}")  # fmt: skip
        except DeadlineExceededError as exc:
            self.events.say(f"{exc}: its silence ends anyway")

    def _warm_up(self, replica: str, port: int, paths: tuple[str, ...]) -> None:
        """Requests from inside the container before nginx sends it any: a JVM fresh from its start
        answers its first requests slowly (classes load, the JIT has compiled nothing), and the slo gate
        would measure that instead of the version."""
        urls = " ".join(f"http://127.0.0.1:{port}{path}" for path in paths)
        curl = "curl -s -o /dev/null --max-time 5"
        loop = f"for i in $(seq {WARM_UP_ROUNDS}); do for u in {urls}; do {curl} $u; done; done; true"
        started = time.monotonic()
        self.lab.container(replica).execute(["sh", "-c", loop])
        self.events.say(f"{replica}: warmed up ({WARM_UP_ROUNDS} rounds in {time.monotonic() - started:.0f}s)")

    def _compose_on(self, release: Release) -> DockerClient:
        plan = self.lab.plan.with_image(release.service, release.image, release.version, release.commit)
        env = DEPLOY_DIR / f"images-{release.service}.env"
        plan.write_env(env)
        return compose_client(plan, self.lab.project, images_env=env)

    def _slo_gate(self, replica: str, address: str, probe_path: str) -> None:
        """The replica's requests over the window; a 5xx ratio over the SLO ends it early (each second
        of a bad version in the rotation fails clients), the p99 is judged over the whole window."""
        since, started = datetime.now(UTC), time.monotonic()
        logs, selector = ContainerLogs(self.lab), LogSelector("nginx", contains=address)
        next_reading = started + self.gates.reading_interval
        while True:
            now = time.monotonic()
            if now >= next_reading or now >= started + self.gates.window:
                lines = logs.search(selector, since)
                verdict = replica_verdict([line.record for line in lines], address, self.gates)
                if verdict.failing_early or now >= started + self.gates.window:
                    break
                next_reading = now + self.gates.reading_interval
            self.client.get(probe_path)  # round robin: about half of these reach the new replica
            time.sleep(self.gates.probe_interval)  # pacing of the probes, not a wait for a condition
        if not verdict.passed:
            raise GateFailedError("slo", replica, f"{verdict}\n{self._last_lines(replica)}")
        self.events.event("gate_passed", f"{replica}: {verdict}", replica=replica, gate="slo")

    def _last_lines(self, replica: str, lines: int = 15) -> str:
        tail = self.lab.compose.compose.logs([replica], tail=str(lines), no_log_prefix=True)
        return f"last {lines} log lines of {replica}:\n{tail}"


@dataclass(frozen=True)
class Verdict:
    """The slo gate's reading of one replica's requests in nginx's access log."""

    requests: int
    errors: int  # 5xx answered by the replica, or no answer from it (nginx's 502/504)
    p99: float  # seconds, the replica's upstream response time
    gates: Gates

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def failing_early(self) -> bool:
        """Enough requests to judge, and already more 5xx than the SLO allows."""
        return self.requests >= self.gates.min_requests and self.error_ratio > self.gates.max_error_ratio

    @property
    def passed(self) -> bool:
        return (
            self.requests >= self.gates.min_requests
            and self.error_ratio <= self.gates.max_error_ratio
            and self.p99 <= self.gates.max_p99
        )

    def __str__(self) -> str:
        return (
            f"{self.requests} requests (at least {self.gates.min_requests} in {self.gates.window:.0f}s), "
            f"5xx {self.errors} = {self.error_ratio:.1%} (SLO <= {self.gates.max_error_ratio:.1%}), "
            f"p99 {self.p99 * 1000:.0f} ms (SLO <= {self.gates.max_p99 * 1000:.0f} ms)"
        )


def replica_verdict(records: list[dict[str, Any]], address: str, gates: Gates) -> Verdict:
    """Each attempt nginx made at `address` (a retried request lists every upstream it tried)."""
    statuses, times = [], []
    for record in records:
        tried = str(record.get("upstream_addr", "")).split(", ")
        answers = str(record.get("upstream_status", "")).split(", ")
        seconds = str(record.get("upstream_response_time", "")).split(", ")
        for i, upstream in enumerate(tried):
            if upstream != address:
                continue
            status = answers[i] if i < len(answers) else "-"
            statuses.append(int(status) if status.isdigit() else 502)  # "-": no answer at all
            took = seconds[i] if i < len(seconds) else "-"
            times.append(float(took) if took.replace(".", "", 1).isdigit() else 0.0)
    return Verdict(len(statuses), sum(s >= 500 for s in statuses), percentile(times, 99) if times else 0.0, gates)


def deploy(
    lab: Lab, client: httpx.Client, service: str, ref: str | None, say: Log, *, gates: Gates | None = None
) -> Release:
    """Build `service` at `ref` and roll it out; RolledBackError when a gate failed."""
    if service == "nginx":
        return deploy_nginx(lab, ref, say)
    component = deployable(service)
    with deploy_lock():
        previous = current(lab.plan, component)
        source = lab.plan.by_component()[component.name].source
        at = component.at(REPO_ROOT if ref is None else checkout(ref))
        if versions.source_version(at.source_dir, repo=at.root).version == previous.version:
            raise DeployError(
                f"{service} already runs {previous.version}: nothing to deploy"
                + (" (a changed working tree keeps the -dirty tag of the running image: commit the change, so the"
                   " image a rollback returns to stays as it is)" if previous.version.endswith("-dirty") else "")
            )  # fmt: skip
        try:
            release = build(component, ref, source, say)
        except ImageError as exc:
            raise DeployError(f"build of {service} failed, nothing was replaced: {exc}") from None
        return _roll_out(lab, client, component, release, previous, say, gates or Gates())


def rollback(lab: Lab, client: httpx.Client, service: str, say: Log, *, gates: Gates | None = None) -> Release:
    """Back to the version the last deploy replaced (else the newest other kept image), no build."""
    component = deployable(service)
    with deploy_lock():
        running = current(lab.plan, component)
        version = previous_version(component.name, running.version)
        image = f"infralab/{component.name}:{version}"
        release = Release(component.name, image, version, versions.image_label(image, "revision") or "unknown")
        return _roll_out(lab, client, component, release, running, say, gates or Gates(), rollback=True)


def _roll_out(
    lab: Lab,
    client: httpx.Client,
    component: Component,
    release: Release,
    previous: Release,
    say: Log,
    gates: Gates,
    *,
    rollback: bool = False,
) -> Release:
    with lab.endpoints.ops_client() as ops:
        events = DeployEvents(component.name, previous.version, release.version, say, Alertmanager(ops), rollback)
        Rollout(lab, client, component, gates, events).run(release, previous)
    return release


def previous_version(service: str, running: str) -> str:
    """What the last deploy of `service` to `running` replaced, if its image is kept; else the newest
    kept image older than the running one that no deploy had to roll back."""
    kept = versions.kept_versions(f"infralab/{service}")  # newest first
    records = [r for r in read_deploy_log() if r.get("component") == service]
    for record in reversed(records):
        if record.get("event") == "finished" and not record.get("rollback"):
            if record.get("to_version") == running and record.get("from_version") in kept:
                return str(record["from_version"])
            break
    rejected = {r.get("to_version") for r in records if r.get("event") == "rolled_back"}
    older = kept[kept.index(running) + 1 :] if running in kept else kept
    candidates = [v for v in older if v not in rejected]
    if not candidates:
        raise DeployError(f"no older image of {service} to return to (kept, newest first: {', '.join(kept) or 'none'})")
    return candidates[0]


def deploy_nginx(lab: Lab, ref: str | None, say: Log) -> Release:
    """nginx/ at `ref` (None: the working tree) made live after `nginx -t`; refused: nothing changes."""
    with deploy_lock():
        root = REPO_ROOT if ref is None else checkout(ref)
        version = versions.source_version(root / "nginx", repo=root)
        release = Release("nginx", "", version.version, version.commit)
        nginx = NginxConfig(lab.container("nginx").name)
        with lab.endpoints.ops_client() as ops:
            events = DeployEvents("nginx", "live", version.version, say, Alertmanager(ops))
            started = time.monotonic()
            events.event("started", f"nginx configuration {version.version} from {ref or 'the working tree'}")
            try:
                verdict = nginx.apply(root / "nginx")
            except NginxConfigRefusedError as exc:
                events.event("gate_failed", "nginx -t refused the configuration; nginx was not reloaded",
                             gate="nginx -t", evidence=str(exc))  # fmt: skip
                raise DeployError(f"{exc}\nnginx was not reloaded: it serves the configuration it had") from None
            events.event("gate_passed", f"nginx -t: {verdict.splitlines()[-1] if verdict else 'ok'}", gate="nginx -t")
            events.finished(time.monotonic() - started)
        return release
