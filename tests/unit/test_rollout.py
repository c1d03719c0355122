"""Which services a rolling restart must see back behind nginx, and which it may restart at all."""

from __future__ import annotations

import re

import pytest

from infralab.rollout import PROBE_PATHS, UPSTREAMS_CONF, balanced_peers, check_services

pytestmark = pytest.mark.unit


def test_the_core_replicas_are_the_balanced_peers_of_the_lab() -> None:
    peers = balanced_peers(UPSTREAMS_CONF.read_text())
    assert peers == {"core-1": ("core_server", 8080), "core-2": ("core_server", 8080)}
    assert {group for group, _ in peers.values()} <= PROBE_PATHS.keys()


def test_a_single_server_group_needs_no_wait() -> None:
    conf = """
    upstream one {
        zone one 64k;
        server solo:9000 max_fails=1;
        keepalive 4;
    }
    upstream two {
        server a.example:81;
        server b-2:82 backup;
    }
    """
    assert balanced_peers(conf) == {"a.example": ("two", 81), "b-2": ("two", 82)}


@pytest.mark.parametrize(
    ("requested", "error"),
    [
        ([], "name the services to restart"),
        (["core-1", "core-3", "nginxx"], "not services of this lab: core-3, nginxx (it runs: core-1, core-2, nginx)"),
    ],
)
def test_bad_requests_are_refused_before_anything_restarts(requested: list[str], error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        check_services(requested, ["nginx", "core-2", "core-1"])


def test_services_restart_in_the_order_given() -> None:
    assert check_services(["core-2", "core-1"], ["core-1", "core-2"]) == ["core-2", "core-1"]
