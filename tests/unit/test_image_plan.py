from __future__ import annotations

import pytest

from infralab import images, stack
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
    monkeypatch.setattr(
        images.ImageBuilder, "offline_image", lambda self, c, version=None: steps.append(c.name) or c.offline_tag
    )
    plan = images.resolve_images(images.ImageMode.AUTO, set(), lambda _: None)
    fallen_back = {r.component for r in plan.resolutions if r.source is Source.OFFLINE}
    assert fallen_back == {"toxiproxy", "cadvisor"}
    assert steps[0] == "base"
    assert steps.count("base") == 1
    assert sorted(steps[1:]) == ["cadvisor", "toxiproxy"]


def _online_plan() -> ImagePlan:
    """What `make up` decides where a registry answers and every optional component is wanted."""
    return ImagePlan(
        tuple(
            Resolution(c.name, c.official, Source.OFFICIAL, "pulled")
            if c.official
            else Resolution(c.name, f"infralab/{c.name}:latest", Source.BUILT, "built by compose")
            for c in COMPONENTS
        )
    )


def test_each_optional_profile_starts_or_is_left_out_as_one_group() -> None:
    steps = stack.start_plan(_online_plan())
    assert steps.optional == {"grafana": ("grafana",), "logs": ("loki", "alloy"), "jenkins": ("jenkins",)}
    assert not set(steps.required) & {"grafana", "loki", "alloy", "jenkins"}
    assert {"nginx", "core-1", "core-2", "prometheus"} <= set(steps.required)
    # The Jenkins image (official core + plugins) is built in its own group: its failure is not the lab's.
    assert steps.builds["jenkins"] == ("jenkins",)
    assert {"core-1", "core-2", "worker-server", "admin-server"} <= set(steps.builds[""])
    assert steps.timeouts["jenkins"] > steps.timeouts["grafana"]


def test_a_left_out_optional_component_is_neither_built_nor_waited_for() -> None:
    steps = stack.start_plan(_online_plan().without({"jenkins": "not wanted"}))
    assert "jenkins" not in steps.builds
    assert "jenkins" not in steps.timeouts
    assert "jenkins" not in steps.optional


def test_a_plan_without_a_profile_says_why_for_each_of_its_components() -> None:
    plan = _online_plan().without({"logs": "loki not healthy after 300s"})
    left = {r.component: r.reason for r in plan.left_out}
    assert left == {"loki": "loki not healthy after 300s", "alloy": "loki not healthy after 300s"}
    assert plan.profiles == ("grafana", "jenkins")
    assert "LOKI_IMAGE" not in plan.env()
