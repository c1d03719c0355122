"""cAdvisor: one pinned version on both paths, the host read-only, and the metrics the rules use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infralab.components import by_name

pytestmark = pytest.mark.static

# Upstream's documented mounts (docs/running.md), all read-only here.
STANDARD_MOUNTS = {
    "/:/rootfs",
    "/var/run:/var/run",
    "/sys:/sys",
    "/var/lib/docker/:/var/lib/docker",
    "/dev/disk/:/dev/disk",
}


def _flags(service: dict[str, Any]) -> dict[str, str]:
    return dict(arg.removeprefix("--").partition("=")[::2] for arg in service["command"])


def test_official_image_and_offline_build_pin_the_same_version(compose_model: dict[str, Any], repo: Path) -> None:
    go_mod = (repo / "compose" / "offline" / "cadvisor" / "go.mod").read_text()
    pinned = dict(re.findall(r"^\s*(github\.com/google/cadvisor(?:/lib)?) (v\S+)", go_mod, re.MULTILINE))
    version = pinned["github.com/google/cadvisor"]
    assert pinned["github.com/google/cadvisor/lib"] == version
    official = f"ghcr.io/google/cadvisor:{version}"
    assert by_name("cadvisor").official == official
    assert compose_model["services"]["cadvisor"]["image"] == f"${{CADVISOR_IMAGE:-{official}}}"


def test_cadvisor_reads_the_host_read_only_without_privileges(compose_model: dict[str, Any]) -> None:
    service = compose_model["services"]["cadvisor"]
    mounts = {volume.removesuffix(":ro") for volume in service["volumes"]}
    assert mounts == STANDARD_MOUNTS
    assert all(volume.endswith(":ro") for volume in service["volumes"])
    assert not service.get("privileged")
    assert service["cap_drop"] == ["ALL"]
    assert service["cap_add"] == ["SYSLOG"]
    assert service["devices"] == ["/dev/kmsg:/dev/kmsg:r"]
    assert service["networks"] == ["monitoring"]
    assert not service.get("ports")


def test_cadvisor_exports_what_the_rules_and_dashboards_use(compose_model: dict[str, Any]) -> None:
    flags = _flags(compose_model["services"]["cadvisor"])
    # Rules and dashboards select containers by their compose service label.
    assert flags["store_container_labels"] == "false"
    assert "com.docker.compose.service" in flags["whitelisted_container_labels"].split(",")
    # cpu: usage and throttling; memory: working set; network; oom_event: OOM kills.
    assert {"cpu", "memory", "network", "oom_event"}.isdisjoint(flags["disable_metrics"].split(","))
