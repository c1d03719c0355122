"""A bad nginx configuration shipped with `make deploy s=nginx`: `nginx -t` refuses it before any reload."""

from __future__ import annotations

import httpx
import pytest

from infralab import deploy
from infralab.absence import NoAlertFired, NoSentryEvents, NoSlack
from infralab.changes import commit_change, replacing, say
from infralab.drill import Drill
from infralab.lab import Lab
from infralab.load import SteadyLoad
from infralab.nginx_config import NginxConfig
from infralab.scenario import Expected, NotExpected, Scenario, SignalKind
from infralab.sentry import PROJECTS

pytestmark = [pytest.mark.failure, pytest.mark.deploy]

PROXY_CONF = "lab/proxy.conf"
# The processes the nginx master runs: a reload replaces every worker, so the same pids mean no reload.
WORKERS = (
    'for d in /proc/[0-9]*; do [ "$(cut -d" " -f4 $d/stat)" = "$(cat /tmp/nginx.pid)" ] && echo ${d#/proc/}; done; true'
)

SCENARIO = Scenario(
    name="deploy-nginx-bad-config",
    hypothesis=(
        "An nginx configuration change with a directive nginx does not know is shipped with make deploy s=nginx "
        "under 60 requests/s: the staged copy fails `nginx -t`, the deploy stops saying so with nginx's own "
        "error line, nginx is never reloaded (the same worker processes serve on), the live configuration is "
        "unchanged and no request fails."
    ),
    fault="make deploy s=nginx ref=<HEAD with `proxy_buffering_mode on;` in nginx/lab/proxy.conf>",
    slo={"nginx -t refuses it (its emerg line)": 30},
    signals={
        SignalKind.METRIC: NotExpected(
            "nothing reaches the running nginx: no 5xx, so no entry-point or error-ratio alert",
            NoAlertFired(("EntryPoint5xxRatioHigh", "HighErrorRatio")),
        ),
        SignalKind.LOG: Expected("nginx -t refuses it (its emerg line)"),
        SignalKind.SENTRY: NotExpected(
            "no service handled anything differently", NoSentryEvents(tuple(sorted(PROJECTS)))
        ),
        SignalKind.SLACK: NotExpected(
            "a refused configuration changes nothing: no deploy notification, no alert",
            NoSlack(channels=("#lab-deploys", "#lab-warning", "#lab-critical")),
        ),
    },
    runbook="docs/infra-components/ci-cd.md#nginx-설정",
)


def test_bad_nginx_configuration_is_refused_before_any_reload(drill: Drill, lab: Lab, lab_http: httpx.Client) -> None:
    bad = commit_change(
        {
            f"nginx/{PROXY_CONF}": replacing(
                "proxy_http_version 1.1;", "proxy_http_version 1.1;\nproxy_buffering_mode on;"
            )
        },
        "nginx: buffer proxied responses (a directive nginx does not have)",
    )
    nginx = NginxConfig(lab.container("nginx").name)
    workers = lab.container("nginx").execute(["sh", "-c", WORKERS])
    live = nginx.read(PROXY_CONF)
    with SteadyLoad(lab_http, [("GET", "/api/health")], rate=60) as load:
        drill.fault_by_hand()
        with pytest.raises(deploy.DeployError) as refused:
            deploy.deploy(lab, lab_http, "nginx", bad, say)
        drill.wait_until(
            "nginx -t refuses it (its emerg line)",
            lambda: 'unknown directive "proxy_buffering_mode"' in str(refused.value),
        )
        drill.recover()  # nothing to undo: nothing was applied
    assert lab.container("nginx").execute(["sh", "-c", WORKERS]) == workers, "nginx was reloaded"
    assert nginx.read(PROXY_CONF) == live, "the live configuration changed"
    assert "proxy_buffering_mode" not in live
    drill.timeline.figure("failed requests", load.summary())
    assert not load.failed, f"requests failed: {load.failed[:10]}"
    drill.recovered()
