"""docker-compose.yml: valid for Compose v2, and every container set up as an SRE expects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from python_on_whales import DockerClient

from infralab.envfile import ensure_env, read_env
from infralab.images import ImagePlan
from infralab.paths import COMPOSE_FILE, ENV_EXAMPLE, REPO_ROOT
from infralab.stack import compose_client

pytestmark = pytest.mark.static


def test_compose_config_is_valid_for_this_lab(lab_images: ImagePlan) -> None:
    config = compose_client(lab_images).compose.config()
    assert set(lab_images.services) <= set(config.services)


def test_compose_config_is_valid_with_every_profile_and_the_example_env(tmp_path: Path) -> None:
    # The example leaves secrets empty on purpose; `make up` fills them, as ensure_env does here.
    env = tmp_path / ".env"
    ensure_env(env, ENV_EXAMPLE)
    client = DockerClient(
        compose_files=[COMPOSE_FILE],
        compose_env_files=[env],
        compose_profiles=["grafana", "logs", "jenkins"],
        compose_project_directory=REPO_ROOT,
    )
    config = client.compose.config(return_json=True)
    assert {"grafana", "loki", "alloy", "jenkins", "nginx"} <= set(config["services"])


def _services(model: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(model["services"].items())


def test_every_container_has_healthcheck_restart_limits_and_log_rotation(compose_model: dict[str, Any]) -> None:
    problems = []
    for name, service in _services(compose_model):
        if "test" not in service.get("healthcheck", {}):
            problems.append(f"{name}: no healthcheck")
        if service.get("restart") != "unless-stopped":
            problems.append(f"{name}: restart policy {service.get('restart')!r}")
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        missing = {"cpus", "memory", "pids"} - set(limits)
        if missing:
            problems.append(f"{name}: no {', '.join(sorted(missing))} limit")
        logging = service.get("logging", {})
        if logging.get("driver") != "json-file" or "max-size" not in logging.get("options", {}):
            problems.append(f"{name}: no json-file log rotation")
    assert not problems


def test_only_nginx_publishes_ports(compose_model: dict[str, Any]) -> None:
    assert [name for name, s in _services(compose_model) if s.get("ports")] == ["nginx"]
    assert compose_model["services"]["nginx"]["ports"] == ["${LAB_BIND_ADDR:-127.0.0.1}:${LAB_HTTP_PORT:-8080}:8080"]


def test_every_variable_is_documented_in_the_example() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    used |= {s["environment"] for s in _load_secrets().values()}
    # Image variables and the services' versions are written by `make up` into .lab/images.env, not by people.
    used = {v for v in used if not v.endswith(("_IMAGE", "_SERVER_VERSION", "_SERVER_COMMIT"))}
    assert used - set(read_env(ENV_EXAMPLE)) == set()


def _load_secrets() -> dict[str, Any]:
    import yaml

    secrets: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["secrets"]
    return secrets


def test_nginx_fixed_addresses_match_the_networks(compose_model: dict[str, Any]) -> None:
    services = compose_model["services"]
    for entry in services["nginx"]["extra_hosts"]:
        host, address = entry.split(":")
        assert services[host]["networks"]["backend"]["ipv4_address"] == address, host
    monitoring = compose_model["networks"]["monitoring"]["ipam"]["config"][0]["subnet"]
    assert f"allow {monitoring};" in (REPO_ROOT / "nginx" / "nginx.conf").read_text()
    upstreams = (REPO_ROOT / "nginx" / "lab" / "upstreams.conf").read_text()
    for entry in services["nginx"]["extra_hosts"]:
        assert f"server {entry.split(':')[0]}:8080" in upstreams


def test_optional_components_sit_behind_profiles(compose_model: dict[str, Any]) -> None:
    profiles = {name: s.get("profiles") for name, s in _services(compose_model) if s.get("profiles")}
    assert profiles == {"grafana": ["grafana"], "loki": ["logs"], "alloy": ["logs"], "jenkins": ["jenkins"]}


def test_every_mounted_repository_path_exists(compose_model: dict[str, Any]) -> None:
    missing = []
    for name, service in _services(compose_model):
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not (REPO_ROOT / source).exists():
                missing.append(f"{name}: {source}")
    assert not missing


def _documented_limits() -> dict[str, tuple[str, str, str]]:
    """docs/infra-components/docker.md's limits table: service -> (cpus, memory, pids), two services a row."""
    chapter = (REPO_ROOT / "docs" / "infra-components" / "docker.md").read_text()
    table = chapter.split('<a id="limits"></a>', 1)[1].split("\n\n", 2)[1]
    documented: dict[str, tuple[str, str, str]] = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        for names, cpus, memory, pids in (cells[0:4], cells[5:9]):
            for name in re.findall(r"[a-z][a-z0-9-]*", names.split("(")[0]):
                documented[name] = (cpus, memory, pids)
    return documented


def test_the_container_chapters_limits_table_is_compose_s(compose_model: dict[str, Any]) -> None:
    # The chapter copies the limits for an operator; docker-compose.yml stays their source.
    actual = {
        name: tuple(str(service["deploy"]["resources"]["limits"][k]) for k in ("cpus", "memory", "pids"))
        for name, service in _services(compose_model)
    }
    assert _documented_limits() == actual
