"""The lab's components: how each one's image is obtained on the official and offline paths."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from infralab.paths import REPO_ROOT, WORK_DIR

OFFLINE_DIR = REPO_ROOT / "compose" / "offline"
BASE_IMAGE = "infralab/debian-base:bookworm"
TOOLS_DIR = WORK_DIR / "tools"  # host-built third-party binaries (offline path)


@dataclass(frozen=True)
class HostBuild:
    """An artifact built on the host (registries are reachable there, not from containers)."""

    command: tuple[str, ...]
    cwd: Path
    artifact: Path
    sources: tuple[Path, ...]  # newer files here than the artifact mean "rebuild"
    env: dict[str, str] = field(default_factory=dict)
    extras: tuple[Path, ...] = ()  # files the image needs beside the artifact


@dataclass(frozen=True)
class Component:
    name: str
    services: tuple[str, ...]  # compose services it provides
    image_var: str  # variable holding the image reference in docker-compose.yml
    official: str | None  # pinned third-party image; None: built from our Dockerfile online
    offline: bool  # an offline image can be built (compose/offline/<name>/Dockerfile)
    profile: str | None = None  # compose profile, for components a lab may run without
    context: Path | None = None  # offline build context (defaults to a staged host artifact)
    host_build: HostBuild | None = None
    why_no_offline: str = ""
    # Compose builds the image the lab runs from a Dockerfile on top of `official` (Jenkins + plugins).
    compose_build: bool = False
    # How long `make up` waits for its containers to become healthy (a first Jenkins boot is slow).
    start_timeout: float = 300
    # One of the lab's own services: its images are tagged with the git version of its folder
    # and carry it (APP_VERSION, APP_COMMIT), and the last few are kept for a rollback.
    versioned: bool = False
    root: Path = REPO_ROOT  # the checkout it is built from (another one for a deploy of a git ref)

    def at(self, root: Path) -> Component:
        """This component built from another checkout of the repository."""

        def moved(path: Path) -> Path:
            return root / path.relative_to(self.root)

        build = self.host_build
        return replace(
            self,
            root=root,
            context=self.context and moved(self.context),
            host_build=build
            and replace(
                build,
                cwd=moved(build.cwd),
                artifact=moved(build.artifact),
                sources=tuple(map(moved, build.sources)),
                extras=tuple(map(moved, build.extras)),
            ),
        )

    @property
    def offline_tag(self) -> str:
        return f"infralab/{self.name}:offline"

    @property
    def env_prefix(self) -> str:
        """CORE_SERVER for core-server: its image, version and commit variables in .lab/images.env."""
        return self.image_var.removesuffix("_IMAGE")

    @property
    def dockerfile(self) -> Path:
        return self.root / OFFLINE_DIR.relative_to(REPO_ROOT) / self.name / "Dockerfile"

    @property
    def source_dir(self) -> Path:
        """Our own service's folder (its Dockerfile for the online path, its version)."""
        return self.root / self.name


def _service(
    name: str,
    services: tuple[str, ...],
    command: tuple[str, ...],
    artifact: str,
    sources: tuple[str, ...],
    env: dict[str, str] | None = None,
    extras: tuple[str, ...] = (),
) -> Component:
    root = REPO_ROOT / name
    return Component(
        name=name,
        services=services,
        image_var=name.upper().replace("-", "_") + "_IMAGE",
        official=None,
        offline=True,
        host_build=HostBuild(
            command, root, root / artifact, tuple(root / s for s in sources), env or {}, tuple(root / e for e in extras)
        ),
        versioned=True,
    )


NOT_IN_DEBIAN = "not packaged by Debian and not buildable from a registry reachable here"

COMPONENTS: tuple[Component, ...] = (
    # The same nginx image serves the entry point and the simulated third-party API.
    Component("nginx", ("nginx", "ext-api"), "NGINX_IMAGE", "nginx:1.27.3", offline=True),
    _service(
        "core-server",
        ("core-1", "core-2"),
        ("mvn", "-B", "-q", "-DskipTests", "package"),
        "target/core-server.jar",
        ("pom.xml", "src/main"),
        extras=("jvm.options",),
    ),
    _service(
        "worker-server",
        ("worker-server",),
        ("cargo", "build", "--release", "--locked"),
        "target/release/worker-server",
        ("Cargo.toml", "Cargo.lock", "src"),
    ),
    _service(
        "admin-server",
        ("admin-server",),
        ("go", "build", "-trimpath", "-o", "bin/admin-server", "./cmd/admin-server"),
        "bin/admin-server",
        ("go.mod", "go.sum", "cmd", "internal"),
        env={"CGO_ENABLED": "0"},
    ),
    Component(
        "toxiproxy",
        ("toxiproxy",),
        "TOXIPROXY_IMAGE",
        "ghcr.io/shopify/toxiproxy:2.12.0",
        offline=True,
        host_build=HostBuild(
            (str(REPO_ROOT / "scripts" / "build-toxiproxy.sh"),),
            REPO_ROOT,
            TOOLS_DIR / "toxiproxy" / "toxiproxy-server",
            (REPO_ROOT / "scripts" / "build-toxiproxy.sh",),
            extras=(TOOLS_DIR / "toxiproxy" / "toxiproxy-cli",),
        ),
    ),
    Component("postgres", ("postgres",), "POSTGRES_IMAGE", "postgres:15.10-bookworm", offline=True),
    Component("docker-proxy", ("docker-proxy",), "DOCKER_PROXY_IMAGE", "haproxy:2.6", offline=True),
    Component("prometheus", ("prometheus",), "PROMETHEUS_IMAGE", "prom/prometheus:v2.55.1", offline=True),
    Component("alertmanager", ("alertmanager",), "ALERTMANAGER_IMAGE", "prom/alertmanager:v0.27.0", offline=True),
    # No official image: built from its Dockerfile on both paths (online on debian:bookworm-slim).
    Component("mtail", ("mtail",), "MTAIL_IMAGE", None, offline=True, context=OFFLINE_DIR / "mtail"),
    Component("node-exporter", ("node-exporter",), "NODE_EXPORTER_IMAGE", "prom/node-exporter:v1.8.2", offline=True),
    # Offline: our thin main over cAdvisor's library (the proxy does not serve upstream's cmd module).
    Component(
        "cadvisor",
        ("cadvisor",),
        "CADVISOR_IMAGE",
        "ghcr.io/google/cadvisor:v0.60.6",
        offline=True,
        host_build=HostBuild(
            (str(REPO_ROOT / "scripts" / "build-cadvisor.sh"),),
            REPO_ROOT,
            TOOLS_DIR / "cadvisor" / "cadvisor",
            (
                REPO_ROOT / "scripts" / "build-cadvisor.sh",
                *(OFFLINE_DIR / "cadvisor" / f for f in ("main.go", "go.mod", "go.sum")),
            ),
        ),
    ),
    # The Slack-webhook and Sentry stand-ins share one image.
    Component(
        "stand-ins",
        ("slack-sink", "sentry-sink"),
        "STAND_INS_IMAGE",
        None,
        offline=True,
        context=REPO_ROOT / "monitoring" / "stand-ins",
    ),
    Component(
        "grafana",
        ("grafana",),
        "GRAFANA_IMAGE",
        "grafana/grafana:11.4.0",
        offline=False,
        profile="grafana",
        why_no_offline=NOT_IN_DEBIAN,
    ),
    Component(
        "loki",
        ("loki",),
        "LOKI_IMAGE",
        "grafana/loki:3.3.2",
        offline=False,
        profile="logs",
        why_no_offline=NOT_IN_DEBIAN,
    ),
    Component(
        "alloy",
        ("alloy",),
        "ALLOY_IMAGE",
        "grafana/alloy:v1.5.1",
        offline=False,
        profile="logs",
        why_no_offline=NOT_IN_DEBIAN,
    ),
    Component(
        "jenkins",
        ("jenkins",),
        "JENKINS_IMAGE",
        "jenkins/jenkins:2.568.2-lts-jdk21",
        offline=False,
        profile="jenkins",
        why_no_offline=NOT_IN_DEBIAN,
        compose_build=True,
        # The health check's start_period (docker-compose.yml) plus two minutes.
        start_timeout=420,
    ),
)

# Every profile a component sits behind: `make down` and the suite stop all of them, whatever the
# current plan runs (Compose leaves containers of inactive profiles alone).
ALL_PROFILES: tuple[str, ...] = tuple(sorted({c.profile for c in COMPONENTS if c.profile}))


def by_name(name: str) -> Component:
    for component in COMPONENTS:
        if component.name == name:
            return component
    raise KeyError(f"unknown component {name!r}; known: {', '.join(c.name for c in COMPONENTS)}")
