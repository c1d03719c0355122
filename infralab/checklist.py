"""Checks every drill runs before its fault (steady state) and after its recovery."""

from __future__ import annotations

from infralab.alerts import Alertmanager
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.timeline import Timeline
from infralab.waiting import wait_until


def wait_steady_state(lab: Lab, alertmanager: Alertmanager, *, timeout: float = 150) -> None:
    """Every container healthy and no alert active but Watchdog.

    A drill that starts inside an earlier incident proves nothing, and Alertmanager would not
    notify again for an alert that is still active.
    """
    wait_until(
        lambda: all(s.ready for s in lab.states().values()) and alertmanager.active_alertnames() <= {"Watchdog"},
        timeout=timeout,
        interval=5,
        what="steady state: lab healthy, no alert active but Watchdog",
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
