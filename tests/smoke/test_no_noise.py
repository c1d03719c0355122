"""A healthy lab is quiet: with synthetic traffic and no fault, nothing but Watchdog fires.

A lab that pages while nothing is wrong trains people to ignore it. The window here is
short (make test); `make bench` watches ten minutes (docs/benchmarks.md).
"""

from __future__ import annotations

import pytest

from infralab.alerts import Alertmanager, SlackSink
from infralab.checklist import wait_steady_state
from infralab.faults import Faults
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.waiting import hold_for

pytestmark = pytest.mark.smoke

WINDOW = 60  # seconds of observation, polled every 5 s


def test_nothing_but_watchdog_fires_without_a_fault(
    lab: Lab, prometheus: Prometheus, alertmanager: Alertmanager, slack: SlackSink, faults: Faults
) -> None:
    wait_steady_state(lab, alertmanager, slack)
    assert faults.active() == [], "a fault is active: this is no fault-free window"
    since = slack.cursor()
    # The window only counts with traffic flowing (on a fresh lab the first rate needs a minute).
    prometheus.wait_for(
        'sum(rate(nginx_http_requests_total{route="api"}[1m]))', lambda rps: rps > 0, timeout=90, what="traffic"
    )

    def quiet() -> None:
        noisy = prometheus.values('ALERTS{alertstate="firing", alertname!="Watchdog"}')
        assert not noisy, f"alerts without a fault: {sorted(noisy)}"
        messages = [m.title for m in slack.messages(since) if m.alertname != "Watchdog"]
        assert not messages, f"Slack got messages without a fault: {messages}"

    assert hold_for(quiet, duration=WINDOW, interval=5) >= WINDOW // 5
