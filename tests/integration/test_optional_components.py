"""`make up` survives its optional components: a throwaway Compose project whose override adds
one optional component that cannot be built and one that never becomes healthy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from infralab.components import BASE_IMAGE
from infralab.images import ImageError, ImagePlan
from infralab.stack import service_states, start_lab

pytestmark = pytest.mark.integration

PROJECT = "infralab-test-optional"
BASE = f"""
services:
  core:
    image: {BASE_IMAGE}
    command: ["sleep", "300"]
    init: true
    healthcheck: {{test: ["CMD", "true"], interval: 1s, retries: 1}}
"""
# The override: what a user's first `make up` meets when Jenkins' plugins cannot be resolved and
# Loki never gets ready, next to a Grafana-like component that is fine.
OVERRIDE = f"""
services:
  unbuildable:
    profiles: [ci]
    image: {PROJECT}/unbuildable:never
    build: {{context: ./unbuildable}}
  sick:
    profiles: [logs]
    image: {BASE_IMAGE}
    command: ["sh", "-c", "echo 'sick: ingester not ready' && exec sleep 300"]
    init: true
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 1}}
  fine:
    profiles: [dashboards]
    image: {BASE_IMAGE}
    command: ["sleep", "300"]
    init: true
    healthcheck: {{test: ["CMD", "true"], interval: 1s, retries: 1}}
"""
FAILING_BUILD = f"""FROM {BASE_IMAGE}
RUN echo "plugin resolution failed: needs a newer Jenkins core" && exit 3
"""
GROUPS = {"ci": ("unbuildable",), "logs": ("sick",), "dashboards": ("fine",)}


@pytest.fixture
def project(lab_images: ImagePlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DockerClient]:
    assert lab_images.services  # the base image exists once the lab's images do
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")  # no buildx on this engine
    (tmp_path / "compose.yml").write_text(BASE)
    (tmp_path / "compose.override.yml").write_text(OVERRIDE)
    (tmp_path / "unbuildable").mkdir()
    (tmp_path / "unbuildable" / "Dockerfile").write_text(FAILING_BUILD)
    client = DockerClient(
        compose_files=[tmp_path / "compose.yml", tmp_path / "compose.override.yml"],
        compose_profiles=list(GROUPS),
        compose_project_name=PROJECT,
    )
    try:
        yield client
    finally:
        client.compose.down(timeout=1, remove_orphans=True)


def test_the_lab_starts_without_the_optional_groups_that_fail_and_says_why(project: DockerClient) -> None:
    progress: list[str] = []
    left_out = start_lab(
        project, ("core",), GROUPS, progress.append, builds={"ci": ("unbuildable",)}, timeouts={"logs": 60}
    )
    assert set(left_out) == {"ci", "logs"}
    assert "image build of unbuildable failed" in left_out["ci"]
    assert "plugin resolution failed: needs a newer Jenkins core" in left_out["ci"]
    assert "--- sick: running/unhealthy" in left_out["logs"]
    assert "sick: ingester not ready" in left_out["logs"]
    states = service_states(project, ("core", "fine", "unbuildable", "sick"))
    assert states["core"].ready
    assert states["fine"].ready
    # A group left out is removed, not left behind half-started.
    assert states["unbuildable"].state == states["sick"].state == "missing"
    assert any(line.startswith("optional ci (unbuildable) left out") for line in progress)
    assert any(line.startswith("optional logs (sick) left out") for line in progress)


def test_a_required_image_that_cannot_be_built_stops_the_start(project: DockerClient) -> None:
    with pytest.raises(ImageError, match="needs a newer Jenkins core"):
        start_lab(project, ("core",), {}, lambda _: None, builds={"": ("unbuildable",)})
    assert service_states(project, ("core",))["core"].state == "missing"
