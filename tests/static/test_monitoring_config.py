"""Prometheus and Alertmanager configuration, checked with promtool and amtool from the lab's images."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from python_on_whales import docker

pytestmark = pytest.mark.static

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus"
ALERTMANAGER_DIR = PROMETHEUS_DIR.parent / "alertmanager"


def _promtool(image_of: Callable[[str], str], *args: str) -> str:
    return str(
        docker.run(
            image_of("prometheus"),
            list(args),
            entrypoint="promtool",
            remove=True,
            volumes=[(PROMETHEUS_DIR, "/etc/prometheus", "ro")],
        )
    )


def _amtool(image_of: Callable[[str], str], tmp_path: Path, *args: str) -> str:
    url = tmp_path / "slack_webhook_url"
    url.write_text("http://slack-sink:8080/services/infra-lab")
    return str(
        docker.run(
            image_of("alertmanager"),
            list(args),
            entrypoint="amtool",
            remove=True,
            volumes=[(ALERTMANAGER_DIR, "/etc/alertmanager", "ro"), (url, "/run/secrets/slack_webhook_url", "ro")],
        )
    )


def _alert_rules() -> list[dict[str, Any]]:
    rules = []
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def test_promtool_check_config(image_of: Callable[[str], str]) -> None:
    assert "SUCCESS" in _promtool(image_of, "check", "config", "/etc/prometheus/prometheus.yml")


def test_promtool_test_rules(image_of: Callable[[str], str]) -> None:
    tests = sorted(p.name for p in (PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests
    output = _promtool(image_of, "test", "rules", *(f"/etc/prometheus/tests/{t}" for t in tests))
    assert "FAILED" not in output


def test_every_alert_is_annotated_and_routed_to_a_runbook(repo: Path) -> None:
    problems = []
    for rule in _alert_rules():
        name = rule["alert"]
        if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
            problems.append(f"{name}: severity must be critical or warning")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key):
                problems.append(f"{name}: no {key}")
        doc, _, anchor = annotations.get("runbook_url", "").partition("#")
        path = repo / doc
        if not doc.startswith("docs/") or not path.is_file():
            problems.append(f"{name}: runbook {doc!r} is not a file under docs/")
        elif anchor and not _has_anchor(path, anchor):
            problems.append(f"{name}: runbook {doc} has no section #{anchor}")
    assert not problems


def _has_anchor(path: Path, anchor: str) -> bool:
    # Explicit anchors (<a id="...">) keep links stable whatever language the heading is in.
    return f'<a id="{anchor}"></a>' in path.read_text()


def test_every_alert_has_a_promtool_case() -> None:
    tested = set(
        re.findall(r"alertname: (\w+)", "".join(p.read_text() for p in (PROMETHEUS_DIR / "tests").glob("*.yml")))
    )
    assert {r["alert"] for r in _alert_rules()} - tested == set()


# Jobs whose silence another path reports: Prometheus and Alertmanager down stop the Watchdog.
SELF_MONITORED_JOBS = {"prometheus", "alertmanager"}


def test_every_scraped_job_has_an_up_alert() -> None:
    # A target nobody watches hides every alert built on its metrics (no cAdvisor: no CPU alert).
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {c["job_name"] for c in config["scrape_configs"]}
    watched: set[str] = set()
    for rule in _alert_rules():
        for op, value in re.findall(r'\bup\{[^}]*\bjob(=~|=)"([^"]+)"', rule["expr"]):
            watched |= {value} if op == "=" else {job for job in jobs if re.fullmatch(value, job)}
    assert jobs - SELF_MONITORED_JOBS - watched == set()


def test_amtool_check_config(image_of: Callable[[str], str], tmp_path: Path) -> None:
    output = _amtool(image_of, tmp_path, "check-config", "/etc/alertmanager/alertmanager.yml")
    assert "SUCCESS" in output


def test_slack_messages_link_the_runbook_and_the_services_dashboard(
    image_of: Callable[[str], str], tmp_path: Path
) -> None:
    # amtool's example data has ExternalURL https://example.com/alertmanager: Grafana sits beside it.
    text = _amtool(
        image_of,
        tmp_path,
        "template",
        "render",
        "--template.glob=/etc/alertmanager/templates/*.tmpl",
        '--template.text={{ template "lab.slack.text" . }}',
    )
    assert "runbook: " in text
    assert "grafana: https://example.com/grafana/d/service-red?var-service=" in text


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=Watchdog", "severity=warning"], "slack-heartbeat"),
        (["alertname=CoreServerAllReplicasDown", "severity=critical", "service=core-server"], "slack-critical"),
        (["alertname=SomethingSlow", "severity=warning", "service=worker-server"], "slack-warning"),
        (["alertname=TelemetrySourceDown", "severity=warning", "service=nginx", "container=mtail"], "slack-warning"),
    ],
)
def test_alertmanager_routes(image_of: Callable[[str], str], tmp_path: Path, labels: list[str], receiver: str) -> None:
    output = _amtool(
        image_of,
        tmp_path,
        "config",
        "routes",
        "test",
        "--config.file=/etc/alertmanager/alertmanager.yml",
        "--verify.receivers",
        receiver,
        *labels,
    )
    assert output.strip() == receiver
