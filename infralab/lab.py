"""The running lab as the suite sees it: compose control plus ways in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from python_on_whales import Container, DockerClient

from infralab.endpoints import Endpoints
from infralab.images import ImagePlan
from infralab.stack import PROJECT, ServiceState, compose_client, service_states


class NoSuchLabError(LookupError):
    """The compose project holds none of the lab's containers; the message names the projects that run."""


def no_such_lab(project: str, running: Iterable[str]) -> NoSuchLabError:
    names = ", ".join(sorted(set(running))) or "none"
    return NoSuchLabError(f"compose project {project!r} has none of the lab's containers (running projects: {names})")


@dataclass
class Lab:
    plan: ImagePlan
    endpoints: Endpoints
    project: str = PROJECT

    @property
    def compose(self) -> DockerClient:
        return compose_client(self.plan, self.project)

    def running_projects(self) -> list[str]:
        """Every compose project on this Docker engine with a running container (`docker compose ls`)."""
        return [p.name for p in self.compose.compose.ls() if p.name]

    def require_containers(self) -> None:
        """Before attaching: NoSuchLabError, naming the projects that run, when the project has none
        of the lab's containers (a typo, or a kept lab that was taken down)."""
        if all(s.state == "missing" for s in self.states().values()):
            raise no_such_lab(self.project, self.running_projects())

    def container(self, service: str) -> Container:
        containers = self.compose.compose.ps([service], all=True)
        if not containers:
            raise LookupError(f"no container for service {service!r}")
        return containers[0]

    def address(self, service: str, network: str = "backend") -> str:
        """The service's IP address on one of the project's networks (nginx's upstream address)."""
        networks = self.container(service).network_settings.networks or {}
        found = networks.get(f"{self.project}_{network}")
        if found is None or not found.ip_address:
            raise LookupError(f"{service!r} has no address on network {network!r}")
        return found.ip_address

    def states(self) -> dict[str, ServiceState]:
        return service_states(self.compose, self.plan.services)

    def stop(self, *services: str) -> None:
        self.compose.compose.stop(list(services), timeout=15)

    def start(self, *services: str) -> None:
        self.compose.compose.start(list(services))

    def logs(self, service: str, *, since: str | None = None) -> str:
        return str(self.compose.compose.logs([service], no_log_prefix=True, since=since))
