"""The deploy's pure parts: rotation edits of nginx's upstreams, the slo gate's reading, its inputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from infralab import deploy, deploy_events
from infralab.changes import commit_change, replacing
from infralab.components import COMPONENTS
from infralab.deploy import DeployError, Gates, deployable, previous_version, replica_verdict, seed_build_cache
from infralab.deploy_events import DeployEvents
from infralab.endpoints import Endpoints
from infralab.images import ImagePlan, Resolution, Source
from infralab.lab import Lab
from infralab.nginx_config import out_of_rotation, set_serving
from infralab.paths import REPO_ROOT
from infralab.rollout import UPSTREAMS_CONF
from infralab.versions import BuildVersion

pytestmark = pytest.mark.unit

ADDRESS = "10.77.10.11:8080"


def test_a_replica_leaves_the_rotation_and_comes_back() -> None:
    conf = UPSTREAMS_CONF.read_text()
    drained = set_serving(conf, "core-1", serving=False)
    assert out_of_rotation(drained) == ["core-1"]
    assert "server core-1:8080 max_fails=1 fail_timeout=5s down;" in drained
    assert set_serving(drained, "core-1", serving=False) == drained  # draining twice changes nothing
    assert set_serving(drained, "core-1", serving=True) == conf


def test_the_last_server_in_rotation_stays() -> None:
    drained = set_serving(UPSTREAMS_CONF.read_text(), "core-1", serving=False)
    with pytest.raises(ValueError, match="no server in rotation"):
        set_serving(drained, "core-2", serving=False)
    with pytest.raises(ValueError, match="no server in rotation"):
        set_serving(drained, "admin-server", serving=False)  # a group of one


def test_an_unknown_server_is_refused() -> None:
    with pytest.raises(ValueError, match="no upstream server core-3"):
        set_serving(UPSTREAMS_CONF.read_text(), "core-3", serving=False)


def _line(
    status: str, upstream: str = ADDRESS, took: str = "0.010", upstream_status: str | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "upstream_addr": upstream,
        "upstream_status": upstream_status or status,
        "upstream_response_time": took,
    }


def test_the_slo_gate_passes_a_clean_replica() -> None:
    verdict = replica_verdict([_line("200", took=f"0.{n:03d}") for n in range(100)], ADDRESS, Gates())
    assert (verdict.requests, verdict.errors) == (100, 0)
    assert verdict.p99 == pytest.approx(0.098, abs=0.001)
    assert verdict.passed, verdict


def test_the_slo_gate_fails_on_5xx_slowness_or_too_little_traffic() -> None:
    errors = [_line("200")] * 99 + [_line("500")]
    assert not replica_verdict(errors, ADDRESS, Gates()).passed  # 1% > 0.5%
    slow = [_line("200", took="0.900")] * 30
    verdict = replica_verdict(slow, ADDRESS, Gates())
    assert not verdict.passed
    assert "p99 900 ms (SLO <= 500 ms)" in str(verdict)
    assert not replica_verdict([_line("200")] * 5, ADDRESS, Gates()).passed  # fewer than min_requests


def test_the_slo_gate_counts_only_the_attempts_at_the_replica() -> None:
    retried = _line("200", upstream=f"{ADDRESS}, 10.77.10.12:8080", took="0.001, 0.020", upstream_status="502, 200")
    other = _line("500", upstream="10.77.10.12:8080")
    no_answer = _line("502", took="-", upstream_status="-")
    verdict = replica_verdict([retried, other, no_answer], ADDRESS, Gates(min_requests=1))
    assert (verdict.requests, verdict.errors) == (2, 2)


def test_only_our_own_services_are_deployable() -> None:
    assert deployable("core-server").services == ("core-1", "core-2")
    with pytest.raises(DeployError, match="deployable: core-server, worker-server, admin-server"):
        deployable("postgres")


def test_rollback_returns_to_what_the_last_deploy_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c, d = (letter * 12 for letter in "abcd")
    log = [{"component": "core-server", "event": "finished", "from_version": a, "to_version": b}]
    monkeypatch.setattr(deploy, "read_deploy_log", lambda: log)
    monkeypatch.setattr(deploy.versions, "kept_versions", lambda _: [d, c, b, a])  # newest first
    assert previous_version("core-server", b) == a
    # Running something the log does not explain: the newest kept image older than it, never a newer one.
    assert previous_version("core-server", c) == b
    # A version a deploy had to roll back is never a target.
    log.append({"component": "core-server", "event": "rolled_back", "to_version": b})
    assert previous_version("core-server", c) == a
    # A rollback's own "finished" does not make a second rollback undo it.
    log.append({"component": "core-server", "event": "finished", "from_version": c, "to_version": a, "rollback": True})
    with pytest.raises(DeployError, match="no older image of core-server"):
        previous_version("core-server", a)


def test_a_component_is_built_from_another_checkout(tmp_path: Path) -> None:
    core = deployable("core-server").at(tmp_path)
    assert core.source_dir == tmp_path / "core-server"
    assert core.dockerfile == tmp_path / "compose" / "offline" / "core-server" / "Dockerfile"
    assert core.host_build is not None
    assert core.host_build.cwd == tmp_path / "core-server"
    assert core.host_build.artifact == tmp_path / "core-server" / "target" / "core-server.jar"
    assert all(tmp_path in p.parents for p in (*core.host_build.sources, *core.host_build.extras))


def test_a_checkout_build_cache_is_seeded_once_from_the_repositorys(tmp_path: Path) -> None:
    source, target = tmp_path / "repo" / "release", tmp_path / "checkout" / "release"
    (source / "deps").mkdir(parents=True)
    (source / "deps" / "libserde.rlib").write_text("compiled")
    seed_build_cache(source, target)
    assert (target / "deps" / "libserde.rlib").read_text() == "compiled"
    assert not target.with_name("release.seeding").exists()
    # Once there, the checkout's cache is its own: never overwritten by the repository's.
    (target / "deps" / "libserde.rlib").write_text("rebuilt by the checkout")
    (source / "deps" / "libserde.rlib").write_text("rebuilt by make up")
    seed_build_cache(source, target)
    assert (target / "deps" / "libserde.rlib").read_text() == "rebuilt by the checkout"
    # Nothing to seed from (the repository never built it): the build starts cold.
    seed_build_cache(tmp_path / "never-built", tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_a_deploy_changes_one_service_of_the_plan() -> None:
    plan = ImagePlan(
        tuple(Resolution(c.name, f"infralab/{c.name}:old", Source.OFFLINE, "", "old", "c0") for c in COMPONENTS)
    )
    env = plan.with_image("core-server", "infralab/core-server:new", "new", "c1").env()
    assert (env["CORE_SERVER_IMAGE"], env["CORE_SERVER_VERSION"], env["CORE_SERVER_COMMIT"]) == (
        "infralab/core-server:new",
        "new",
        "c1",
    )
    assert env["WORKER_SERVER_IMAGE"] == "infralab/worker-server:old"


class _Alertmanager:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def post(self, alert: dict[str, Any]) -> None:
        self.posted.append(alert)


def test_a_deploy_writes_a_json_line_per_step_and_notifies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(deploy_events, "DEPLOY_LOG", tmp_path / "deploys.jsonl")
    said: list[str] = []
    alertmanager = _Alertmanager()
    events = DeployEvents("core-server", "aaaaaaaaaaaa", "bbbbbbbbbbbb", said.append, alertmanager)  # type: ignore[arg-type]
    events.event("started", "core-server: aaaaaaaaaaaa -> bbbbbbbbbbbb")
    events.rolled_back(42.0, "healthy", "core-1 exited\nlast log lines ...")
    lines = [json.loads(line) for line in (tmp_path / "deploys.jsonl").read_text().splitlines()]
    assert [(r["event"], r["level"]) for r in lines] == [("started", "info"), ("rolled_back", "error")]
    assert {r["service"] for r in lines} == {"deploy"}
    assert all(r["from_version"] == "aaaaaaaaaaaa" and r["to_version"] == "bbbbbbbbbbbb" for r in lines)
    assert {r["deploy_id"] for r in lines} == {events.deploy_id}
    (alert,) = alertmanager.posted
    assert alert["labels"] == {
        "alertname": "DeployRolledBack",
        "service": "core-server",
        "severity": "warning",
        "version": "bbbbbbbbbbbb",
        "deploy_id": events.deploy_id,
    }
    assert alert["annotations"]["runbook_url"] == deploy_events.ROLLBACK_RUNBOOK
    assert "gate healthy failed" in alert["annotations"]["description"]
    assert len(said) == 2
    # The same version rolled back again is another alert, not one Alertmanager already notified.
    again = DeployEvents("core-server", "aaaaaaaaaaaa", "bbbbbbbbbbbb", said.append, alertmanager)  # type: ignore[arg-type]
    again.rolled_back(40.0, "healthy", "core-1 exited")
    assert alertmanager.posted[1]["labels"] != alert["labels"]


def test_a_failed_rollback_pages_critical_and_a_lost_notification_is_said(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(deploy_events, "DEPLOY_LOG", tmp_path / "deploys.jsonl")
    alertmanager = _Alertmanager()
    events = DeployEvents("core-server", "aaaaaaaaaaaa", "bbbbbbbbbbbb", lambda _: None, alertmanager)  # type: ignore[arg-type]
    events.rollback_failed("core-1", "healthy", "core-1 restarted\nFATAL: password authentication failed")
    (alert,) = alertmanager.posted
    assert (alert["labels"]["alertname"], alert["labels"]["severity"]) == ("DeployRollbackFailed", "critical")
    assert alert["annotations"]["runbook_url"] == deploy_events.ROLLBACK_FAILED_RUNBOOK
    assert "password authentication failed" in alert["annotations"]["description"]

    def unreachable(alert: dict[str, Any]) -> None:
        raise httpx.ConnectError("connection refused")

    alertmanager.post = unreachable  # type: ignore[method-assign]
    events.finished(12.0)  # the deploy finished whether or not Slack hears of it
    lines = [json.loads(line) for line in (tmp_path / "deploys.jsonl").read_text().splitlines()]
    assert [(r["event"], r["level"]) for r in lines] == [
        ("rollback_failed", "error"),
        ("finished", "info"),
        ("notify_failed", "error"),
    ]
    assert lines[-1]["alertname"] == "DeployFinished"


def test_the_runbooks_the_notifications_link_exist() -> None:
    for link in (deploy_events.DEPLOY_RUNBOOK, deploy_events.ROLLBACK_RUNBOOK, deploy_events.ROLLBACK_FAILED_RUNBOOK):
        path, anchor = link.split("#")
        assert f'<a id="{anchor}"></a>' in (REPO_ROOT / path).read_text(), link


def test_a_change_is_a_commit_on_no_branch() -> None:
    path = "core-server/src/main/resources/application.properties"
    sha = commit_change({path: replacing("server.shutdown=graceful", "server.shutdown=immediate")}, "unit test")
    shown = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"{sha}:{path}"], capture_output=True, text=True)
    assert "server.shutdown=immediate" in shown.stdout
    branches = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "branch", "--contains", sha], capture_output=True, text=True
    ).stdout
    assert branches.strip() == ""
    with pytest.raises(ValueError, match="found it 0 times"):
        commit_change({path: replacing("no such line", "x")}, "unit test")


def test_a_deploy_of_the_running_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    running = deploy.Release("core-server", "infralab/core-server:aaaaaaaaaaaa-dirty", "aaaaaaaaaaaa-dirty", "a")
    monkeypatch.setattr(deploy, "current", lambda *_: running)
    monkeypatch.setattr(deploy.versions, "source_version", lambda *_, **__: BuildVersion("aaaaaaaaaaaa-dirty", "a"))
    plan = ImagePlan(tuple(Resolution(c.name, "x", Source.OFFLINE) for c in COMPONENTS))
    lab = Lab(plan, Endpoints("http://127.0.0.1:9", "ops", "x", "x"))
    with pytest.raises(DeployError, match=r"already runs aaaaaaaaaaaa-dirty: nothing to deploy .*commit the change"):
        deploy.deploy(lab, httpx.Client(), "core-server", None, lambda _: None)


def test_an_unknown_ref_is_named() -> None:
    with pytest.raises(DeployError, match="not a commit in this repository: 'no-such-ref'"):
        deploy.checkout("no-such-ref")
