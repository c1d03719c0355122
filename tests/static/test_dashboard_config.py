"""Every PromQL expression of the Grafana dashboards parses (promtool from the lab's Prometheus image),
and Compose runs Grafana the way the provisioning expects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from python_on_whales import docker

from infralab.dashboards import PROVIDERS_FILE, prometheus_queries

pytestmark = pytest.mark.static

QUERIES = list(prometheus_queries())


def test_every_dashboard_expression_parses(image_of: Callable[[str], str], tmp_path: Path) -> None:
    # Each expression becomes a recording rule: `promtool check rules` parses them all and reports
    # every error at once, on the Prometheus version this lab runs.
    names = {f"dashboard:query_{n:03d}": q for n, q in enumerate(QUERIES)}
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": r, "expr": q.expr} for r, q in names.items()]}]}
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    # promtool runs as the image's unprivileged user.
    tmp_path.chmod(0o755)
    (tmp_path / "dashboards.yml").chmod(0o644)
    # promtool reports parse errors on stderr: merge it, and keep the exit status, through sh.
    output = str(
        docker.run(
            image_of("prometheus"),
            ["-c", "promtool check rules /rules/dashboards.yml 2>&1; echo exit=$?"],
            entrypoint="sh",
            remove=True,
            volumes=[(tmp_path, "/rules", "ro")],
        )
    )
    broken = [f"{query}\n    {line}" for name, query in names.items() for line in _lines_naming(output, name)]
    assert output.rstrip().endswith("exit=0"), "promtool rejects dashboard expressions:\n" + "\n".join(
        broken or [output]
    )
    assert f"{len(QUERIES)} rules found" in output


def _lines_naming(output: str, rule: str) -> list[str]:
    return [line.split(": ", 3)[-1] for line in output.splitlines() if f'"{rule}"' in line]


def test_compose_mounts_provisioning_and_the_dashboards_folder(compose_model: dict[str, Any], repo: Path) -> None:
    grafana = compose_model["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    assert mounts.get("/etc/grafana/provisioning") == "./monitoring/grafana/provisioning"
    provider_path = yaml.safe_load(PROVIDERS_FILE.read_text())["providers"][0]["options"]["path"]
    assert provider_path in mounts, f"docker-compose.yml mounts nothing at the dashboard provider's {provider_path}"
    assert (repo / mounts[provider_path]).resolve() == (repo / "monitoring" / "grafana" / "dashboards").resolve()


def test_grafana_is_served_under_grafana_with_a_secret_admin_password(compose_model: dict[str, Any]) -> None:
    grafana = compose_model["services"]["grafana"]
    env = grafana["environment"]
    assert env["GF_SERVER_ROOT_URL"].endswith("/grafana/")
    assert env["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert "grafana_admin_password" in grafana["secrets"]
    assert compose_model["secrets"]["grafana_admin_password"] == {"environment": "GRAFANA_ADMIN_PASSWORD"}
