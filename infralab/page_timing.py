"""How soon a page can reach Slack at best, from the alert rule and the pipeline's intervals.

A fault becomes a Slack message through: a scrape that sees it, a rule evaluation that finds the
expression true (a range function such as rate() or increase() needs a second sample of the new
state first), the rule's `for:`, then Alertmanager's `group_wait` for a new group. The best case
lines every step up with the fault; the worst adds a whole scrape and evaluation interval of waiting
at each step, and the rule's longest range window (a threshold near the top of what a step change
reaches fills its window only at the end). How long the symptom itself takes to build up (a leak
filling a heap) is the fault's, not the pipeline's: the report measures the page from the first
symptom against these bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from infralab.paths import REPO_ROOT

PROMETHEUS_DIR = REPO_ROOT / "monitoring" / "prometheus"
ALERTMANAGER_CONFIG = REPO_ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
_DURATION = re.compile(r"(\d+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_RANGE = re.compile(r"\[\s*(\d+(?:ms|s|m|h))\s*(?::[^\]]*)?\]")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def seconds(duration: str) -> float:
    """Prometheus duration ("1m30s", "5s") in seconds; ValueError for anything else."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration.strip():
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class Rule:
    expr: str
    group_interval: float
    for_seconds: float = 0.0


@dataclass(frozen=True)
class PageBound:
    """The fastest and the slowest a healthy pipeline delivers `alertname` after its fault."""

    alertname: str
    for_seconds: float
    scrape_interval: float
    evaluation_interval: float
    group_wait: float
    second_sample: bool  # a range function over a metric: the new state needs two samples
    window: float = 0.0  # the longest range window in the rule or the recording rules it reads

    @property
    def best(self) -> float:
        return (self.scrape_interval if self.second_sample else 0.0) + self.for_seconds + self.group_wait

    @property
    def worst(self) -> float:
        """Each step just missed (a scrape, an evaluation before `for:` and one at its end), and the
        whole range window to fill."""
        return self.best + self.scrape_interval + 2 * self.evaluation_interval + self.window

    def explain(self) -> str:
        steps = ["2nd scrape " + _s(self.scrape_interval)] if self.second_sample else []
        steps += [f"for {_s(self.for_seconds)}", f"group_wait {_s(self.group_wait)}"]
        return " + ".join(steps)


def _s(value: float) -> str:
    return f"{value:g}s"


@dataclass(frozen=True)
class _Pipeline:
    scrape_interval: float
    group_wait: float  # the root route's: no route of the lab's rule alerts overrides it
    alerts: dict[str, Rule]
    records: dict[str, Rule]


@cache
def _pipeline(prometheus_dir: Path, alertmanager_config: Path) -> _Pipeline:
    config = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text())["global"]
    evaluation = seconds(config.get("evaluation_interval", "1m"))
    alerts: dict[str, Rule] = {}
    records: dict[str, Rule] = {}
    for path in sorted((prometheus_dir / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            interval = seconds(group["interval"]) if "interval" in group else evaluation
            for rule in group["rules"]:
                parsed = Rule(str(rule["expr"]), interval, seconds(rule.get("for", "0s")))
                if "alert" in rule:
                    alerts[rule["alert"]] = parsed
                else:
                    records[rule["record"]] = parsed
    route = yaml.safe_load(alertmanager_config.read_text())["route"]
    return _Pipeline(
        seconds(config.get("scrape_interval", "1m")), seconds(route.get("group_wait", "30s")), alerts, records
    )


def _windows(expr: str, records: dict[str, Rule], seen: frozenset[str] = frozenset()) -> list[float]:
    """The range windows of the expression and of the recording rules it reads."""
    own = [seconds(w) for w in _RANGE.findall(expr)]
    names = {n for n in _NAME.findall(expr) if n in records and n not in seen}
    return own + [w for n in sorted(names) for w in _windows(records[n].expr, records, seen | names)]


def page_bound(
    alertname: str, *, prometheus_dir: Path = PROMETHEUS_DIR, alertmanager_config: Path = ALERTMANAGER_CONFIG
) -> PageBound | None:
    """None for an alert no Prometheus rule raises (a deploy event, posted straight to Alertmanager)."""
    pipeline = _pipeline(prometheus_dir, alertmanager_config)
    rule = pipeline.alerts.get(alertname)
    if rule is None:
        return None
    windows = _windows(rule.expr, pipeline.records)
    return PageBound(
        alertname=alertname,
        for_seconds=rule.for_seconds,
        scrape_interval=pipeline.scrape_interval,
        evaluation_interval=rule.group_interval,
        group_wait=pipeline.group_wait,
        second_sample=bool(windows),
        window=max(windows, default=0.0),
    )
