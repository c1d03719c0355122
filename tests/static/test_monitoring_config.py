"""Prometheus and Alertmanager configuration, checked with promtool and amtool from the lab's images."""

from __future__ import annotations

import json
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


def _amtool(image_of: Callable[[str], str], tmp_path: Path, *args: str, data: Path | None = None) -> str:
    """amtool in the lab's Alertmanager image; `data` (a file) is mounted at /tmp/data.json."""
    url = tmp_path / "slack_webhook_url"
    url.write_text("http://slack-sink:8080/services/infra-lab")
    volumes = [(ALERTMANAGER_DIR, "/etc/alertmanager", "ro"), (url, "/run/secrets/slack_webhook_url", "ro")]
    if data is not None:
        volumes.append((data, "/tmp/data.json", "ro"))
    return str(docker.run(image_of("alertmanager"), list(args), entrypoint="amtool", remove=True, volumes=volumes))


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


# The deploy alerts, as make deploy posts them (docs/observability/alerting.md#deploy-rolled-back).
DEPLOY_LABELS = ["service=core-server", "version=0123456789ab", "deploy_id=20261208T014212.019000Z"]


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=Watchdog", "severity=warning"], "slack-heartbeat"),
        (["alertname=CoreServerAllReplicasDown", "severity=critical", "service=core-server"], "slack-critical"),
        (["alertname=SomethingSlow", "severity=warning", "service=worker-server"], "slack-warning"),
        (["alertname=TelemetrySourceDown", "severity=warning", "service=nginx", "container=mtail"], "slack-warning"),
        # A finished deploy is news for #lab-deploys only; a rollback must be looked at (#lab-warning too).
        (["alertname=DeployFinished", "severity=info", *DEPLOY_LABELS], "slack-deploys"),
        (["alertname=DeployRolledBack", "severity=warning", *DEPLOY_LABELS], "slack-deploys,slack-deploy-warning"),
        # A rollback that failed leaves the service for a person: #lab-critical too.
        (
            ["alertname=DeployRollbackFailed", "severity=critical", *DEPLOY_LABELS],
            "slack-deploys,slack-deploy-critical",
        ),
    ],
)
def test_alertmanager_routes(image_of: Callable[[str], str], tmp_path: Path, labels: list[str], receiver: str) -> None:
    # With several receivers (a route with `continue`), amtool lists them comma-separated, in route order.
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


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+)(ms|s|m|h)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"unexpected duration {duration!r}"
    return sum(int(n) * units[u] for n, u in parts)


def test_deploy_notifications_are_one_per_version_and_prompt() -> None:
    config = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    (deploys,) = [r for r in config["route"]["routes"] if r.get("receiver") == "slack-deploys"]
    # Two deploys of a service, or a deploy and its rollback, are separate Slack messages.
    assert {"alertname", "service", "version"} <= set(deploys["group_by"])
    # Lab timing, like the root route: the operator at the terminal sees it within seconds.
    assert _seconds(deploys.get("group_wait", config["route"]["group_wait"])) <= 5
    (receiver,) = [r for r in config["receivers"] if r["name"] == "slack-deploys"]
    (slack,) = receiver["slack_configs"]
    # A deploy alert ends by itself (endsAt): nothing recovered, nothing to announce.
    assert (slack["channel"], slack["send_resolved"]) == ("#lab-deploys", False)


def test_slack_message_of_a_rollback(image_of: Callable[[str], str], tmp_path: Path) -> None:
    # The alert as make deploy posts it: the lab's template must show its summary, description and
    # runbook, and link the service's dashboard.
    labels = {
        "alertname": "DeployRolledBack",
        "service": "core-server",
        "severity": "warning",
        "version": "0123456789ab",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": "core-server deploy of 0123456789ab rolled back to 89abcdef0123",
            "description": "gate health: core-1 not healthy within 90s",
            "runbook_url": "docs/observability/alerting.md#deploy-rolled-back",
        },
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": "2026-12-01T10:30:00Z",
        "generatorURL": "",
        "fingerprint": "0",
    }
    data = {
        "receiver": "slack-deploys",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {k: labels[k] for k in ("alertname", "service", "version")},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "https://lab.example/alertmanager",
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    text = _amtool(
        image_of,
        tmp_path,
        "template",
        "render",
        "--template.glob=/etc/alertmanager/templates/*.tmpl",
        "--template.data=/tmp/data.json",
        '--template.text={{ template "lab.slack.title" . }}\n{{ template "lab.slack.text" . }}',
        data=path,
    )
    assert text.splitlines()[:4] == [
        "[FIRING:1] DeployRolledBack (core-server)",
        "*WARNING* core-server deploy of 0123456789ab rolled back to 89abcdef0123",
        "gate health: core-1 not healthy within 90s",
        "runbook: docs/observability/alerting.md#deploy-rolled-back"
        " · grafana: https://lab.example/grafana/d/service-red?var-service=core-server · since 10:00:00 UTC",
    ]


def test_the_rollback_runbook_anchor_exists(repo: Path) -> None:
    # make deploy posts DeployRolledBack with this runbook_url; no rule file lists it for the check above.
    assert _has_anchor(repo / "docs/observability/alerting.md", "deploy-rolled-back")


# Alerts that come from no rule file: make deploy posts them to Alertmanager's API.
DEPLOY_ALERTS = {"DeployFinished", "DeployRolledBack", "DeployRollbackFailed"}


def test_the_alert_list_and_the_channels_in_the_docs_match_the_config(repo: Path) -> None:
    doc = (repo / "docs/observability/alerting.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", doc, re.MULTILINE))
    sent = {r["alert"] for r in _alert_rules()} | DEPLOY_ALERTS
    assert (sorted(sent - listed), sorted(listed - sent)) == ([], [])
    config = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    channels = {slack["channel"] for r in config["receivers"] for slack in r.get("slack_configs", [])}
    assert channels == set(re.findall(r"^\| `(#lab-[\w-]+)` \|", doc, re.MULTILINE))
