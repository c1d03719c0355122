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


# --- the deploy markers, on scrapes made up for the purpose ------------------------------------

SCRAPE = 5  # seconds, the lab's scrape interval


def _scrapes(*spans: tuple[bool, int]) -> str:
    """promtool's notation for a series scraped every SCRAPE seconds: (scraped?, seconds) spans in order.
    The end of a scraped span writes a staleness marker, as Prometheus does when a scrape fails.
    (`1xN` is N+1 samples, `_xN` N missing ones.)"""
    tokens, scraped_before = [], False
    for scraped, seconds in spans:
        n = seconds // SCRAPE
        if scraped:
            tokens.append(f"1x{n - 1}")
        elif scraped_before:
            tokens += ["stale"] + ([f"_x{n - 1}"] if n > 1 else [])
        else:
            tokens.append(f"_x{n}")
        scraped_before = scraped
    return " ".join(tokens)


def _build_info(service: str, instance: str, version: str) -> str:
    return f'build_info{{job="{service}", service="{service}", instance="{instance}", version="{version}", commit="c"}}'


def test_deploy_markers_mark_a_deploy_and_its_rollback_not_a_restart(
    image_of: Callable[[str], str], tmp_path: Path
) -> None:
    (expr,) = {q.expr for q in QUERIES if q.panel == "annotation: Deploys"}
    # core-1 runs Y, is replaced by X at 330 s (30 s without a scrape), X fails a gate and core-1 runs Y
    # again from 410 s; core-2 keeps Y. worker-server restarts at 120 s (30 s), admin-server misses one
    # scrape at 200 s: same version, no marker. The lab starts at 0 s: no marker either.
    series = [
        (_build_info("core-server", "core-1:8081", "Y"), _scrapes((True, 300), (False, 110), (True, 490))),
        (_build_info("core-server", "core-1:8081", "X"), _scrapes((False, 330), (True, 60), (False, 510))),
        (_build_info("core-server", "core-2:8081", "Y"), _scrapes((True, 900))),
        (_build_info("worker-server", "worker-server:8081", "W"), _scrapes((True, 120), (False, 30), (True, 750))),
        (_build_info("admin-server", "admin-server:8081", "A"), _scrapes((True, 200), (False, 5), (True, 695))),
    ]
    core_1 = {"service": "core-server", "instance": "core-1:8081"}
    # eval time (s) -> the versions marked on core-1 (one-minute regions from their first scrape).
    expected = {30: None, 180: None, 260: None, 330: "X", 385: "X", 395: None, 410: "Y", 465: "Y", 475: None}
    cases = [
        {
            "expr": expr,
            "eval_time": f"{at}s",
            "exp_samples": [] if version is None else [{"labels": _labels({**core_1, "version": version}), "value": 1}],
        }
        for at, version in expected.items()
    ]
    test = {
        "rule_files": [],
        "evaluation_interval": f"{SCRAPE}s",
        "tests": [
            {
                "interval": f"{SCRAPE}s",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": cases,
            }
        ],
    }
    (tmp_path / "deploys.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    tmp_path.chmod(0o755)
    (tmp_path / "deploys.test.yml").chmod(0o644)
    output = str(
        docker.run(
            image_of("prometheus"),
            ["-c", "promtool test rules /tests/deploys.test.yml 2>&1; echo exit=$?"],
            entrypoint="sh",
            remove=True,
            volumes=[(tmp_path, "/tests", "ro")],
        )
    )
    assert output.rstrip().endswith("exit=0"), output


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
