"""The running lab as the suite sees it: compose control plus ways in."""

from __future__ import annotations

from dataclasses import dataclass

from python_on_whales import Container, DockerClient

from infralab.endpoints import Endpoints
from infralab.images import ImagePlan
from infralab.stack import PROJECT, ServiceState, compose_client, service_states


@dataclass
class Lab:
    plan: ImagePlan
    endpoints: Endpoints
    project: str = PROJECT

    @property
    def compose(self) -> DockerClient:
        return compose_client(self.plan, self.project)

    def container(self, service: str) -> Container:
        containers = self.compose.compose.ps([service], all=True)
        if not containers:
            raise LookupError(f"no container for service {service!r}")
        return containers[0]

    def states(self) -> dict[str, ServiceState]:
        return service_states(self.compose, self.plan.services)

    def stop(self, *services: str) -> None:
        self.compose.compose.stop(list(services), timeout=15)

    def start(self, *services: str) -> None:
        self.compose.compose.start(list(services))

    def logs(self, service: str, *, since: str | None = None) -> str:
        return str(self.compose.compose.logs([service], no_log_prefix=True, since=since))
