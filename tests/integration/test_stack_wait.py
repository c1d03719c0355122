"""`make up`'s start and health wait against real, deliberately broken Compose projects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient, docker

from infralab.components import BASE_IMAGE
from infralab.images import ImagePlan
from infralab.stack import StackError, orphaned_volumes, start, wait_healthy

pytestmark = pytest.mark.integration

COMPOSE = f"""
services:
  fine:
    image: {BASE_IMAGE}
    command: ["sleep", "300"]
    init: true
    healthcheck: {{test: ["CMD", "true"], interval: 1s, retries: 1}}
  broken:
    image: {BASE_IMAGE}
    command: ["sh", "-c", "echo 'listening failed: port taken' && exec sleep 300"]
    init: true
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 1}}
"""
# Like nginx on the core replicas: Compose itself gives up when a dependency turns unhealthy.
DEPENDENT = f"""
  dependent:
    image: {BASE_IMAGE}
    command: ["sleep", "300"]
    init: true
    depends_on: {{broken: {{condition: service_healthy}}}}
"""


def _project(tmp_path: Path, compose: str, name: str) -> DockerClient:
    (tmp_path / "compose.yml").write_text(compose)
    return DockerClient(compose_files=[tmp_path / "compose.yml"], compose_project_name=name)


@pytest.fixture
def project(lab_images: ImagePlan, tmp_path: Path) -> Iterator[DockerClient]:
    assert lab_images.services  # the base image exists once the lab's images do
    client = _project(tmp_path, COMPOSE, "infralab-test-wait")
    client.compose.up(detach=True, quiet=True)
    try:
        yield client
    finally:
        client.compose.down(timeout=1)


def test_names_the_unhealthy_container_with_its_last_log_lines(project: DockerClient) -> None:
    progress: list[str] = []
    with pytest.raises(StackError) as failure:
        wait_healthy(project, ("fine", "broken"), progress.append, timeout=60)
    message = str(failure.value)
    assert message.startswith("lab not healthy after")
    assert "--- broken: running/unhealthy" in message
    assert "listening failed: port taken" in message
    assert "--- fine" not in message
    assert progress  # progress lines were printed while waiting


def test_compose_giving_up_on_a_dependency_still_names_it_with_its_logs(lab_images: ImagePlan, tmp_path: Path) -> None:
    assert lab_images.services
    client = _project(tmp_path, COMPOSE + DEPENDENT, "infralab-test-depends")
    try:
        with pytest.raises(StackError) as failure:
            start(client, ("fine", "broken", "dependent"), lambda _: None, timeout=60)
    finally:
        client.compose.down(timeout=1)
    message = str(failure.value)
    assert message.startswith("docker compose up failed (dependency failed to start")
    assert "--- broken: running/unhealthy" in message
    assert "listening failed: port taken" in message


def test_an_earlier_labs_database_volume_without_its_env_is_refused(tmp_path: Path) -> None:
    project, env_file = "infralab-test-orphan", tmp_path / ".env"
    volume = docker.volume.create(f"{project}_postgres-data")
    try:
        assert orphaned_volumes(project, env_file) == [f"{project}_postgres-data"]
        env_file.write_text("POSTGRES_PASSWORD=the-one-that-initialised-it\n")
        assert orphaned_volumes(project, env_file) == []
    finally:
        docker.volume.remove(volume)
    assert orphaned_volumes(project, tmp_path / "missing.env") == []


# A version that cannot start, under Docker's restart policy: it is "running" again within moments of
# each exit, so a poll seldom sees it exited.
CRASH_LOOP = f"""
services:
  crashing:
    image: {BASE_IMAGE}
    command: ["sh", "-c", "echo 'Could not resolve placeholder DATABASE_URL' && sleep 1 && exit 1"]
    restart: unless-stopped
    init: true
    healthcheck: {{test: ["CMD", "true"], interval: 30s, start_period: 60s}}
"""


def test_a_new_container_in_a_crash_loop_fails_at_its_first_restart(lab_images: ImagePlan, tmp_path: Path) -> None:
    assert lab_images.services
    client = _project(tmp_path, CRASH_LOOP, "infralab-test-crash")
    client.compose.up(detach=True, quiet=True)
    try:
        with pytest.raises(StackError) as failure:
            wait_healthy(client, ("crashing",), lambda _: None, timeout=50, restarts=0)
    finally:
        client.compose.down(timeout=1)
    message = str(failure.value)
    assert "lab not healthy after" in message
    assert int(message.split("after ")[1].split("s")[0]) < 30, message  # at the restart, not the deadline
    assert "restarted 0x" not in message
    assert "Could not resolve placeholder DATABASE_URL" in message
