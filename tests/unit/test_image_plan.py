from __future__ import annotations

import pytest

from infralab import images
from infralab.components import COMPONENTS
from infralab.images import ImagePlan, Resolution, Source

pytestmark = pytest.mark.unit


def _plan(left_out: set[str]) -> ImagePlan:
    return ImagePlan(
        tuple(
            Resolution(c.name, None, Source.LEFT_OUT, "no registry")
            if c.name in left_out
            else Resolution(c.name, c.offline_tag, Source.OFFLINE, "built offline")
            for c in COMPONENTS
        )
    )


def test_offline_lab_runs_without_the_optional_profiles() -> None:
    plan = _plan({"grafana", "loki", "alloy", "jenkins"})
    assert plan.profiles == ()
    assert "grafana" not in plan.services
    assert {"nginx", "core-1", "core-2", "prometheus", "alertmanager", "slack-sink", "sentry-sink"} <= set(
        plan.services
    )
    env = plan.env()
    assert env["COMPOSE_PROFILES"] == ""
    assert env["NGINX_IMAGE"] == "infralab/nginx:offline"
    assert "GRAFANA_IMAGE" not in env


def test_a_profile_needs_every_one_of_its_components() -> None:
    plan = _plan({"alloy"})  # loki alone is not a working log pipeline
    assert plan.profiles == ("grafana", "jenkins")
    assert "loki" not in plan.services


def test_every_component_with_an_offline_build_has_its_dockerfile() -> None:
    for component in COMPONENTS:
        assert component.dockerfile.is_file() == component.offline, component.name
        assert component.offline or component.why_no_offline, component.name


def test_a_failed_official_pull_with_a_reachable_registry_builds_the_base_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Docker Hub answers, ghcr.io does not: toxiproxy and cAdvisor fall back to offline images,
    # which stand on the Debian base that the "registry unreachable" path would have built.
    steps: list[str] = []
    monkeypatch.setattr(images, "try_pull", lambda image: (not image.startswith("ghcr.io/"), "pull result"))
    monkeypatch.setattr(images.ImageBuilder, "_base_script", lambda self: steps.append("base"))
    monkeypatch.setattr(images.ImageBuilder, "offline_image", lambda self, c: steps.append(c.name) or c.offline_tag)
    plan = images.resolve_images(images.ImageMode.AUTO, set(), lambda _: None)
    fallen_back = {r.component for r in plan.resolutions if r.source is Source.OFFLINE}
    assert fallen_back == {"toxiproxy", "cadvisor"}
    assert steps[0] == "base"
    assert steps.count("base") == 1
    assert sorted(steps[1:]) == ["cadvisor", "toxiproxy"]
