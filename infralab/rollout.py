"""Restarting services one at a time with the entry point up (`make restart s="core-1 core-2"`).

Docker's health check is not nginx's view. Open-source nginx checks its upstreams passively: a
replica that refused connections while it booted stays benched for `fail_timeout`, also after
Docker calls it healthy, and restarting the other replica inside that window leaves nginx no
live peer (a 502). So a replica of a balanced upstream counts as back only once nginx has
routed a request to it again; only then does the next one restart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx

from infralab.lab import Lab
from infralab.logs import ContainerLogs, LogSelector
from infralab.paths import REPO_ROOT
from infralab.stack import Log, wait_healthy
from infralab.waiting import wait_until

UPSTREAMS_CONF = REPO_ROOT / "nginx" / "lab" / "upstreams.conf"
# A public route of each balanced upstream: the restart sends traffic there itself, so that
# "nginx routes to it again" never depends on somebody else's requests.
PROBE_PATHS = {"core_server": "/api/health"}

_UPSTREAM = re.compile(r"^\s*upstream\s+(\w+)\s*\{(.*?)^\s*\}", re.MULTILINE | re.DOTALL)
_SERVER = re.compile(r"^\s*server\s+([\w.-]+):(\d+)", re.MULTILINE)


def balanced_peers(conf: str) -> dict[str, tuple[str, int]]:
    """Each server of an upstream group with two or more servers: host -> (group, port).

    nginx never benches the only server of a group, so single-server groups need no wait.
    """
    peers = {}
    for group, body in _UPSTREAM.findall(conf):
        servers = _SERVER.findall(body)
        if len(servers) > 1:
            peers.update({host: (group, int(port)) for host, port in servers})
    return peers


def check_services(requested: Iterable[str], known: Iterable[str]) -> list[str]:
    """The requested services in order, or ValueError naming the ones the lab does not run."""
    requested, known = list(requested), set(known)
    if not requested:
        raise ValueError("name the services to restart, e.g. core-1 core-2")
    if unknown := [s for s in requested if s not in known]:
        raise ValueError(f"not services of this lab: {', '.join(unknown)} (it runs: {', '.join(sorted(known))})")
    return requested


def restart(
    lab: Lab,
    client: httpx.Client,
    services: Iterable[str],
    say: Log,
    *,
    healthy_timeout: float = 120,
    rotation_timeout: float = 30,
) -> None:
    order = check_services(services, lab.plan.services)
    peers = balanced_peers(UPSTREAMS_CONF.read_text())
    for service in order:
        started = time.monotonic()
        say(f"{service}: restarting (stop_grace_period of docker-compose.yml)")
        lab.compose.compose.restart([service])
        # The lab's own health wait: an unhealthy or exited container is named with its last logs.
        wait_healthy(lab.compose, (service,), say, timeout=healthy_timeout)
        say(f"{service}: healthy after {time.monotonic() - started:.0f}s")
        if service in peers:
            group, port = peers[service]
            wait_back_in_rotation(lab, client, service, port, PROBE_PATHS[group], rotation_timeout)
            say(f"{service}: nginx routes to it again after {time.monotonic() - started:.0f}s")


def wait_back_in_rotation(lab: Lab, client: httpx.Client, service: str, port: int, path: str, timeout: float) -> None:
    routed = LogSelector("nginx", fields={"upstream_addr": f"{lab.address(service)}:{port}", "upstream_status": "200"})
    logs, since = ContainerLogs(lab), datetime.now(UTC)

    def probe() -> bool:
        client.get(path)  # round robin reaches every peer nginx has not benched
        return bool(logs.search(routed, since))

    wait_until(probe, timeout=timeout, interval=0.5, what=f"nginx routes a request to {service} again")
