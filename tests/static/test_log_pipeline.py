"""Loki and Alloy cannot run offline (no registry, no package): their configuration is checked
here for what the lab relies on, across the files that must agree (compose, Alloy, Loki,
Grafana's datasource). Alloy's own parser checks config.alloy itself (monitoring/alloy/check,
make test-alloy); whether Loki accepts loki.yml is verified only online."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from infralab.paths import REPO_ROOT

pytestmark = pytest.mark.static

LOKI = yaml.safe_load((REPO_ROOT / "monitoring/loki/loki.yml").read_text())
ALLOY = (REPO_ROOT / "monitoring/alloy/config.alloy").read_text()
DATASOURCES = "monitoring/grafana/provisioning/datasources/datasources.yml"


def test_loki_keeps_a_week_of_logs_and_deletes_older_ones() -> None:
    assert LOKI["limits_config"]["retention_period"] == "168h"
    assert LOKI["compactor"]["retention_enabled"] is True
    assert LOKI["auth_enabled"] is False  # single tenant behind nginx's basic auth


def test_loki_writes_only_to_its_volume(compose_model: dict[str, Any]) -> None:
    mounts = [v.split(":")[1] for v in compose_model["services"]["loki"]["volumes"] if v.startswith("loki-data")]
    assert mounts == [LOKI["common"]["path_prefix"]]
    storage = LOKI["common"]["storage"]["filesystem"]
    assert all(path.startswith(mounts[0] + "/") for path in storage.values())


def test_grafana_reads_where_loki_listens() -> None:
    # Alloy's push URL against the same port: monitoring/alloy/check.
    port = LOKI["server"]["http_listen_port"]
    datasources = yaml.safe_load((REPO_ROOT / DATASOURCES).read_text())
    loki = next(d for d in datasources["datasources"] if d["uid"] == "loki")
    assert loki["url"] == f"http://loki:{port}"


def test_alloy_reads_the_docker_socket_read_only(compose_model: dict[str, Any]) -> None:
    alloy = compose_model["services"]["alloy"]
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in alloy["volumes"]
    # Discovery and the log source both read the socket compose mounts.
    assert len(re.findall(r'host\s*=\s*"unix:///var/run/docker.sock"', ALLOY)) == 2
    assert alloy["profiles"] == compose_model["services"]["loki"]["profiles"] == ["logs"]
