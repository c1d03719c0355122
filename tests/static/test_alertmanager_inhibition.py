"""Alertmanager's inhibit rules, with the labels the real alerts carry.

Twice: against alertmanager.yml read here (fast, every rule pair in the table), and in a
throwaway Alertmanager of the lab's image fed through amtool, so the real matcher semantics
decide (an empty-value matcher such as `slo=""` matching an alert without the label).
The labels are those the promtool cases pin (monitoring/prometheus/tests/), and for the deploy
alerts the ones `make deploy` posts (DeployFinished, DeployRolledBack, DeployRollbackFailed: no
Prometheus rule). The
real Alertmanager also shows how it groups the deploy alerts and to which receivers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from python_on_whales import Container, docker
from python_on_whales.exceptions import DockerException

from infralab.waiting import hold_for, wait_until

pytestmark = pytest.mark.static

ALERTMANAGER_DIR = Path(__file__).resolve().parents[2] / "monitoring" / "alertmanager"

# The disk-full drill's pair, for core-1's /data (node.test.yml).
DATA_DISK = {
    "job": "core-server",
    "instance": "core-1:8081",
    "path": "/data",
    "mountpoint": "/data",
    "container": "core-1",
    "service": "core-server",
}
DISK_FULL = {"alertname": "DiskFull", "severity": "critical", **DATA_DISK}
DISK_FILLING_UP = {"alertname": "DiskFillingUp", "severity": "warning", **DATA_DISK}
# slo.test.yml, core-server.test.yml, lab-alerts.test.yml, containers.test.yml.
AVAILABILITY_FAST_BURN = {
    "alertname": "CoreApiAvailabilitySLOFastBurn",
    "severity": "critical",
    "slo": "core-api-availability",
    "service": "core-server",
}
AVAILABILITY_SLOW_BURN = {
    **AVAILABILITY_FAST_BURN,
    "alertname": "CoreApiAvailabilitySLOSlowBurn",
    "severity": "warning",
}
POOL_EXHAUSTED = {
    "alertname": "DatabasePoolExhausted",
    "severity": "warning",
    "service": "core-server",
    "instance": "core-1:8081",
    "pool": "core-db",
}
MTAIL_DOWN = {
    "alertname": "TelemetrySourceDown",
    "severity": "warning",
    "job": "nginx",
    "instance": "mtail:3903",
    "service": "nginx",
    "container": "mtail",
}
MTAIL_OOM_KILLED = {
    "alertname": "ContainerOomKilled",
    "severity": "critical",
    "name": "infralab-mtail-1",
    "container": "mtail",
    "service": "mtail",
}
CORE_1_OOM_KILLED = {**MTAIL_OOM_KILLED, "name": "infralab-core-1-1", "container": "core-1", "service": "core-server"}
WATCHDOG = {"alertname": "Watchdog", "severity": "warning", "service": "prometheus"}
# lab-alerts.test.yml: a bad core-server version that crashes on start makes these.
CORE_ALL_REPLICAS_DOWN = {"alertname": "CoreServerAllReplicasDown", "severity": "critical", "service": "core-server"}
CORE_1_DOWN = {
    "alertname": "CoreReplicaDown",
    "severity": "warning",
    "job": "core-server",
    "instance": "core-1:8081",
    "service": "core-server",
    "container": "core-1",
}
# What make deploy posts to Alertmanager's API (docs/observability/alerting.md#deploy-rolled-back).
DEPLOY_FINISHED = {
    "alertname": "DeployFinished",
    "severity": "info",
    "service": "core-server",
    "version": "0123456789ab",
    "deploy_id": "20261208T014212.019000Z",
}
DEPLOY_ROLLED_BACK = {**DEPLOY_FINISHED, "alertname": "DeployRolledBack", "severity": "warning"}
DEPLOY_ROLLBACK_FAILED = {**DEPLOY_FINISHED, "alertname": "DeployRollbackFailed", "severity": "critical"}
DEPLOY_ALERTS = [DEPLOY_FINISHED, DEPLOY_ROLLED_BACK, DEPLOY_ROLLBACK_FAILED]
PROMETHEUS_RELOAD_FAILED = {
    "alertname": "PrometheusConfigReloadFailed",
    "severity": "critical",
    "service": "prometheus",
    "job": "prometheus",
    "instance": "localhost:9090",
}

# Classic matcher syntax, as alertmanager.yml writes it: name, operator, quoted value.
MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    parsed = MATCHER.match(matcher)
    assert parsed, f"unexpected matcher syntax: {matcher}"
    name, op, value = parsed.groups()
    # A missing label has the empty value, as in Alertmanager; regexes are anchored.
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    found = re.fullmatch(value, actual) is not None
    return found if op == "=~" else not found


def _inhibit_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())["inhibit_rules"]
    return rules


def _inhibits(source: dict[str, str], target: dict[str, str]) -> list[int]:
    """The (1-based) inhibit rules under which a firing `source` mutes `target`."""
    rules = _inhibit_rules()
    hits = []
    for number, rule in enumerate(rules, start=1):
        assert set(rule) <= {"source_matchers", "target_matchers", "equal"}, f"rule {number}: old-style keys"
        if not all(_matches(m, target) for m in rule["target_matchers"]):
            continue
        if not all(_matches(m, source) for m in rule["source_matchers"]):
            continue
        # An alert matching both sides never mutes another that also does (Alertmanager's rule).
        if all(_matches(m, source) for m in rule["target_matchers"]) and all(
            _matches(m, target) for m in rule["source_matchers"]
        ):
            continue
        if all(source.get(label, "") == target.get(label, "") for label in rule.get("equal", [])):
            hits.append(number)
    return hits


@pytest.mark.parametrize(
    ("source", "target", "muted"),
    [
        # The disk-full drill: the critical mutes the same service's warning (no `slo` label = slo="").
        (DISK_FULL, DISK_FILLING_UP, True),
        # Symptoms never mute causes; the fast burn mutes only its own slow burn.
        (AVAILABILITY_FAST_BURN, POOL_EXHAUSTED, False),
        (AVAILABILITY_FAST_BURN, AVAILABILITY_SLOW_BURN, True),
        # An OOM kill of mtail mutes its failed scrape, though that scrape is service="nginx".
        (MTAIL_OOM_KILLED, MTAIL_DOWN, True),
        (CORE_1_OOM_KILLED, MTAIL_DOWN, False),
        # The heartbeat is never muted.
        (PROMETHEUS_RELOAD_FAILED, WATCHDOG, False),
        # A crashing new version: its critical mutes the replica warning, never the rollback.
        (CORE_ALL_REPLICAS_DOWN, CORE_1_DOWN, True),
        (CORE_ALL_REPLICAS_DOWN, DEPLOY_ROLLED_BACK, False),
        (CORE_ALL_REPLICAS_DOWN, DEPLOY_FINISHED, False),
        # A failed rollback is an hour-long event, not the service's state: it mutes none of its warnings.
        (DEPLOY_ROLLBACK_FAILED, CORE_1_DOWN, False),
    ],
    ids=lambda value: value["alertname"] if isinstance(value, dict) else str(value),
)
def test_inhibit_rules_pair_the_real_alerts(source: dict[str, str], target: dict[str, str], muted: bool) -> None:
    assert bool(_inhibits(source, target)) is muted


@pytest.mark.parametrize("target", DEPLOY_ALERTS, ids=lambda alert: alert["alertname"])
def test_no_inhibit_rule_targets_a_deploy_alert(target: dict[str, str]) -> None:
    # Whatever the source: a rollback is news even while its service's critical fires.
    targeting = [
        n for n, r in enumerate(_inhibit_rules(), start=1) if all(_matches(m, target) for m in r["target_matchers"])
    ]
    assert targeting == []


# --- the same question to a real Alertmanager -------------------------------------------------

AM_URL = "--alertmanager.url=http://127.0.0.1:9093"


@pytest.fixture
def alertmanager(image_of: Callable[[str], str], tmp_path: Path) -> Iterator[Container]:
    url = tmp_path / "slack_webhook_url"
    # Nothing listens there: a notification fails, which this test does not look at.
    url.write_text("http://127.0.0.1:9/services/infra-lab")
    container = docker.run(
        image_of("alertmanager"),
        [
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/tmp/alertmanager",
            "--web.listen-address=127.0.0.1:9093",
            "--cluster.listen-address=",
        ],
        detach=True,
        volumes=[(ALERTMANAGER_DIR, "/etc/alertmanager", "ro"), (url, "/run/secrets/slack_webhook_url", "ro")],
    )
    assert isinstance(container, Container)
    try:
        _until(lambda: _alerts(container) is not None, "Alertmanager answers")
        yield container
    finally:
        docker.remove(container, force=True)


def _alerts(container: Container) -> dict[str, dict[str, Any]] | None:
    """Alertmanager's current (unresolved) alerts by alertname; None while it does not answer."""
    try:
        out = docker.execute(container, ["amtool", AM_URL, "--output=json", "alert", "query", "-a", "-i", "-s", "-u"])
    except DockerException:
        return None
    return {a["labels"]["alertname"]: a for a in json.loads(str(out))}


def _add(container: Container, labels: dict[str, str], *, resolved: bool = False) -> None:
    now = datetime.now(UTC)
    times = [f"--start={(now - timedelta(minutes=1)).isoformat(timespec='seconds')}"]
    if resolved:
        times.append(f"--end={(now - timedelta(seconds=1)).isoformat(timespec='seconds')}")
    docker.execute(
        container,
        ["amtool", AM_URL, "alert", "add", *times, *(f"{k}={v}" for k, v in labels.items())],
    )


def _state(container: Container, alertname: str) -> str | None:
    alert = (_alerts(container) or {}).get(alertname)
    return alert["status"]["state"] if alert else None


def _until(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, timeout=20, what=what)


def _stays_active(container: Container, alertname: str) -> None:
    assert _state(container, alertname) == "active", f"{alertname} got inhibited"


def test_alertmanager_mutes_the_disk_warning_only_while_the_critical_fires(alertmanager: Container) -> None:
    _add(alertmanager, DISK_FULL)
    _add(alertmanager, DISK_FILLING_UP)
    _until(lambda: _state(alertmanager, "DiskFillingUp") == "suppressed", "DiskFull inhibits DiskFillingUp")
    assert _state(alertmanager, "DiskFull") == "active"

    # The drill's recovery: DiskFull resolves. A DiskFillingUp still firing then is no longer
    # muted - its first notification, if not sent yet, goes out (why DiskFillingUp must not
    # start after DiskFull: node.yml).
    _add(alertmanager, DISK_FULL, resolved=True)
    _until(lambda: _state(alertmanager, "DiskFillingUp") == "active", "DiskFillingUp is no longer inhibited")

    # A critical with an `slo` label is no source: the warning stays active.
    _add(alertmanager, AVAILABILITY_FAST_BURN)
    _until(lambda: _state(alertmanager, AVAILABILITY_FAST_BURN["alertname"]) == "active", "the SLO alert arrives")
    # Inhibition is evaluated on every query: a few checks over 2 s would catch it.
    hold_for(lambda: _stays_active(alertmanager, "DiskFillingUp"), duration=2, interval=0.5)


def test_alertmanager_keeps_a_rollback_active_while_its_services_critical_fires(alertmanager: Container) -> None:
    _add(alertmanager, CORE_ALL_REPLICAS_DOWN)
    _add(alertmanager, CORE_1_DOWN)
    _add(alertmanager, DEPLOY_ROLLED_BACK)
    # The critical does mute a warning of its service: the source works.
    _until(lambda: _state(alertmanager, "CoreReplicaDown") == "suppressed", "the critical inhibits CoreReplicaDown")
    hold_for(lambda: _stays_active(alertmanager, "DeployRolledBack"), duration=2, interval=0.5)


def _groups(container: Container) -> list[tuple[str, str, str]]:
    """(receiver, alertname, version) of every aggregation group, sorted."""
    out = docker.execute(container, ["wget", "-qO-", "http://127.0.0.1:9093/api/v2/alerts/groups"])
    return sorted(
        (g["receiver"]["name"], g["labels"].get("alertname", ""), g["labels"].get("version", ""))
        for g in json.loads(str(out))
    )


def test_alertmanager_groups_deploys_per_version_and_sends_a_rollback_to_warning_too(
    alertmanager: Container,
) -> None:
    _add(alertmanager, DEPLOY_FINISHED)
    _add(alertmanager, {**DEPLOY_FINISHED, "version": "fedcba987654"})
    _add(alertmanager, DEPLOY_ROLLED_BACK)
    _add(alertmanager, DEPLOY_ROLLBACK_FAILED)
    # Alertmanager groups an alert when it receives it: two deploys are two notifications, a
    # finished deploy goes to #lab-deploys only, a rollback to #lab-warning too, a failed rollback
    # to #lab-critical too (receivers with no resolved).
    expected = [
        ("slack-deploys", "DeployFinished", "0123456789ab"),
        ("slack-deploys", "DeployFinished", "fedcba987654"),
        ("slack-deploys", "DeployRolledBack", "0123456789ab"),
        ("slack-deploy-warning", "DeployRolledBack", "0123456789ab"),
        ("slack-deploys", "DeployRollbackFailed", "0123456789ab"),
        ("slack-deploy-critical", "DeployRollbackFailed", "0123456789ab"),
    ]

    def grouped() -> list[tuple[str, str, str]] | None:
        groups = _groups(alertmanager)
        return groups if len(groups) >= len(expected) else None

    found = wait_until(grouped, timeout=20, what="a group per deploy and receiver").value
    assert sorted(found) == sorted(expected)
