from __future__ import annotations

import pytest

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
