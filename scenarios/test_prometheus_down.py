"""prometheus-down: the monitoring system itself stops. How does anyone notice?"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infralab.absence import NoAlertFired, NoSentryEvents
from infralab.alerts import SlackSink
from infralab.drill import Drill
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

# The dead-man's switch's rule: page when the heartbeat channel was silent this long
# (Watchdog repeats every 60 s, plus Alertmanager's group interval and a margin).
HEARTBEAT_GRACE = 80
# Prometheus's alerts about itself (lab-alerts.yml, service="prometheus").
SELF_MONITORING = (
    "PrometheusRuleEvaluationFailures",
    "PrometheusConfigReloadFailed",
    "PrometheusRuleEvaluationsMissed",
    "PrometheusNotificationQueueRunningFull",
    "PrometheusErrorSendingAlerts",
    "PrometheusTSDBCompactionsFailing",
)

SCENARIO = Scenario(
    name="prometheus-down",
    hypothesis=(
        "Prometheus stops. Nothing inside Prometheus can alert on its own absence. Its alerts, Watchdog "
        "included, expire in Alertmanager within ~20 s (resend delay 5 s, validity 4x), and the always-firing "
        "Watchdog stops reaching #lab-heartbeat: the silence of that channel is the signal. A dead-man's switch "
        f"outside the lab (here this drill; in production a heartbeat service) pages after {HEARTBEAT_GRACE} s "
        "without a heartbeat. When Prometheus is back, the heartbeat resumes."
    ),
    fault="container.stop on prometheus",
    slo={
        "shutdown in Prometheus's log": 30,
        "Watchdog expired in Alertmanager": 45,
        "heartbeat silent (dead-man's switch fires)": 150,
        "heartbeat back in Slack": 60,
    },
    signals={
        SignalKind.METRIC: NotExpected(
            "the metric system is what is down, and nothing in it reports its own outage, not even its "
            "self-monitoring alerts once it is back; Alertmanager's API shows the effect (Watchdog expired)",
            NoAlertFired(SELF_MONITORING),
        ),
        SignalKind.LOG: Expected("shutdown in Prometheus's log"),
        SignalKind.SENTRY: NotExpected(
            "nothing in the request path fails", NoSentryEvents(("core-server", "worker-server", "admin-server"))
        ),
        SignalKind.SLACK: Expected("heartbeat silent (dead-man's switch fires)"),
    },
    graphs=(Graph("Prometheus up (gap = outage)", ('up{job="prometheus"}',)),),
    runbook="docs/failure-experiments/prometheus-down.md#runbook",
)


def _seconds_since_last_heartbeat(slack: SlackSink) -> float:
    beats = [m for m in slack.messages() if m.channel == "#lab-heartbeat"]
    assert beats, "no heartbeat ever reached #lab-heartbeat"
    last = datetime.fromisoformat(beats[-1].received_at.replace("Z", "+00:00"))
    return (datetime.now(UTC) - last).total_seconds()


def test_a_dead_prometheus_is_noticed_by_its_silent_heartbeat(drill: Drill) -> None:
    drill.inject("container.stop", drill.container("prometheus"), ttl=300)
    try:
        drill.log_line("shutdown in Prometheus's log", "prometheus", "Received SIGTERM")
        drill.wait_until(
            "Watchdog expired in Alertmanager", lambda: "Watchdog" not in drill.alertmanager.active_alertnames()
        )
        drill.wait_until(
            "heartbeat silent (dead-man's switch fires)",
            lambda: _seconds_since_last_heartbeat(drill.slack) > HEARTBEAT_GRACE,
        )
    finally:
        drill.recover()
    drill.wait_until(
        "heartbeat back in Slack", lambda: _seconds_since_last_heartbeat(drill.slack) < 10, reference=RECOVERY
    )
    drill.recovered()
