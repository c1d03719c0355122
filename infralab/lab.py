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
