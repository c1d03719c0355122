"""Attaching to a running lab (--lab=running): which compose project, and one that runs nothing."""

from __future__ import annotations

import pytest

from infralab.endpoints import Endpoints
from infralab.images import ImagePlan
from infralab.lab import Lab, NoSuchLabError, no_such_lab
from infralab.pytest_plugin import lab_project
from infralab.stack import PROJECT, TEST_PROJECT, ServiceState

pytestmark = pytest.mark.unit


def test_running_attaches_to_the_make_up_lab_unless_told_otherwise() -> None:
    assert lab_project("running", None) == PROJECT == "infralab"
    assert lab_project("running", TEST_PROJECT) == "infralab-test"


def test_up_runs_its_own_project_and_takes_no_other() -> None:
    assert lab_project("up", None) == TEST_PROJECT
    with pytest.raises(pytest.UsageError, match="--lab-project goes with --lab=running"):
        lab_project("up", "infralab")


def lab(project: str, states: dict[str, ServiceState], running: list[str]) -> Lab:
    attached = Lab(ImagePlan(()), Endpoints("http://lab", "ops", "pw", "token"), project)
    attached.states = lambda: states  # type: ignore[method-assign]
    attached.running_projects = lambda: running  # type: ignore[method-assign]
    return attached


def test_a_project_without_the_labs_containers_names_the_projects_that_run() -> None:
    missing = {s: ServiceState(s, "missing", "none") for s in ("nginx", "core-1")}
    with pytest.raises(NoSuchLabError) as raised:
        lab("infralab-tst", missing, ["infralab-test", "infralab"]).require_containers()
    assert str(raised.value) == (
        "compose project 'infralab-tst' has none of the lab's containers (running projects: infralab, infralab-test)"
    )


def test_a_project_with_any_container_is_attached_to_even_when_unhealthy() -> None:
    # Health is wait_healthy's to judge (it names the broken container); this only catches a wrong name.
    states = {"nginx": ServiceState("nginx", "exited", "none"), "core-1": ServiceState("core-1", "missing", "none")}
    lab(TEST_PROJECT, states, []).require_containers()


def test_no_project_running_says_so() -> None:
    assert str(no_such_lab("infralab", [])).endswith("(running projects: none)")
