"""Checks every drill runs before its fault (steady state) and after its recovery."""

from __future__ import annotations

from infralab.alerts import Alertmanager, SlackSink
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.timeline import Timeline
from infralab.waiting import wait_until


def wait_steady_state(lab: Lab, alertmanager: Alertmanager, slack: SlackSink, *, timeout: float = 150) -> None:
    """Every container healthy, no alert active but Watchdog, and Slack told every resolution.

    A drill that starts inside an earlier incident proves nothing, Alertmanager would not
    notify again for an alert that is still active, and a late resolved notification of an
    earlier alert would land in the drill's own Slack window.
    """
    wait_until(
        lambda: (
            all(s.ready for s in lab.states().values())
            and alertmanager.active_alertnames() <= {"Watchdog"}
            and not slack.unresolved()
        ),
        timeout=timeout,
        interval=5,
        what="steady state: lab healthy, no alert active but Watchdog, every resolution in Slack",
    )


def wait_recovered(
    lab: Lab, prometheus: Prometheus, timeline: Timeline, *, since: str, healthy_slo: float, resolved_slo: float
) -> None:
    """The post-recovery checks a machine can run: containers healthy, every alert resolved."""
    wait_until(
        lambda: all(s.ready for s in lab.states().values()),
        timeout=timeline.budget(since, healthy_slo),
        what="every container healthy",
    )
    timeline.mark("every container healthy", slo=healthy_slo)
    # Rate-based alerts look back a minute: they resolve last.
    wait_until(
        lambda: prometheus.values('ALERTS{alertstate="firing", alertname!="Watchdog"}') == {},
        timeout=timeline.budget(since, resolved_slo),
        interval=5,
        what="every alert but Watchdog resolved",
    )
    timeline.mark("every alert resolved", slo=resolved_slo)
