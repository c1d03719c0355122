"""`make up`'s health wait against a real, deliberately broken Compose project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from infralab.components import BASE_IMAGE
from infralab.images import ImagePlan
from infralab.stack import StackError, wait_healthy

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


@pytest.fixture
def project(lab_images: ImagePlan, tmp_path: Path) -> Iterator[DockerClient]:
    assert lab_images.services  # the base image exists once the lab's images do
    (tmp_path / "compose.yml").write_text(COMPOSE)
    client = DockerClient(compose_files=[tmp_path / "compose.yml"], compose_project_name="infralab-test-wait")
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
