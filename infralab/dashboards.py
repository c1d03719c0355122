"""The provisioned Grafana dashboards as data: every PromQL expression they run, ready to execute.

Grafana cannot run on the offline path, so the suite checks its dashboards without it: this module
reads monitoring/grafana/dashboards/*.json, finds every Prometheus query (panel targets, annotation
queries, query variables) and substitutes Grafana's variables the way Grafana would for the
dashboard's default time range, so each expression can be parsed by promtool and run against the
lab's Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from infralab.paths import REPO_ROOT

GRAFANA_DIR = REPO_ROOT / "monitoring" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
DATASOURCES_FILE = GRAFANA_DIR / "provisioning" / "datasources" / "datasources.yml"
PROVIDERS_FILE = GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml"

Json = dict[str, Any]
Kind = Literal["panel", "annotation", "variable"]

# Grafana's global variables for the lab's dashboards (time range now-30m, 5 s scrape interval).
# $__rate_interval is at least 4 scrape intervals (20 s); 1m matches the recording rules and is
# what a panel a few hundred pixels wide gets for 30 minutes.
BUILTIN_VARIABLES: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__rate_interval_ms": "60000",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "30m",
    "__range_s": "1800",
    "__range_ms": "1800000",
}
# Substituted for a dashboard variable when its values are not known (offline): every value.
ALL_VALUES = ".+"

# $name, ${name}, ${name:format}, [[name]] (Grafana's variable syntaxes).
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[a-zA-Z_]\w*)\s*\)\s*$")
# Characters Grafana's Prometheus datasource escapes in a multi-value regex.
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


class UnknownVariableError(ValueError):
    """An expression names a variable that neither Grafana nor the dashboard defines."""


@dataclass(frozen=True)
class Query:
    """One Prometheus expression of a dashboard, where it comes from, and its runnable form."""

    dashboard_uid: str
    dashboard: str
    panel: str
    ref_id: str
    kind: Kind
    datasource_uid: str
    raw: str
    expr: str

    @property
    def key(self) -> tuple[str, str, str]:
        """(dashboard uid, panel title, refId): how allow-lists name a query."""
        return (self.dashboard_uid, self.panel, self.ref_id)

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} [{self.ref_id}]: {self.expr}"


@dataclass(frozen=True)
class Dashboard:
    path: Path
    model: Json

    @property
    def uid(self) -> str:
        return str(self.model.get("uid", ""))

    @property
    def title(self) -> str:
        return str(self.model.get("title", ""))

    def panels(self) -> Iterator[Json]:
        """Every panel, rows' nested panels (collapsed rows) included, rows themselves too."""
        for panel in self.model.get("panels", []):
            yield panel
            yield from panel.get("panels", [])

    def variables(self) -> list[Json]:
        return list(self.model.get("templating", {}).get("list", []))

    def annotations(self) -> list[Json]:
        return list(self.model.get("annotations", {}).get("list", []))


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> list[Dashboard]:
    return [Dashboard(path, json.loads(path.read_text())) for path in sorted(directory.glob("*.json"))]


def provisioned_datasources(path: Path = DATASOURCES_FILE) -> dict[str, str]:
    """uid -> type of every provisioned datasource."""
    config = yaml.safe_load(path.read_text())
    return {str(ds["uid"]): str(ds["type"]) for ds in config.get("datasources", [])}


def default_datasource_uid(path: Path = DATASOURCES_FILE) -> str | None:
    config = yaml.safe_load(path.read_text())
    return next((str(ds["uid"]) for ds in config.get("datasources", []) if ds.get("isDefault")), None)


def datasource_uid(reference: object) -> str | None:
    """The uid a panel's or target's datasource reference names (None when it names none)."""
    if isinstance(reference, dict):
        uid = reference.get("uid")
        return str(uid) if uid is not None else None
    if isinstance(reference, str):  # legacy: the datasource's name or uid
        return reference
    return None


def regex_of(values: Sequence[str]) -> str:
    """A multi-value variable as Grafana formats it for a Prometheus regex matcher."""
    escaped = [_REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value) for value in values]
    if not escaped:
        return ALL_VALUES
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """expr with Grafana's variables replaced; UnknownVariableError for one not in variables or builtin."""
    known = {**BUILTIN_VARIABLES, **variables}

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group is not None)
        if name not in known:
            raise UnknownVariableError(f"${name} is not a variable of this dashboard nor a Grafana builtin: {expr}")
        return known[name]

    return _VARIABLE.sub(replace, expr)


def _label_values(variable: Json) -> tuple[str, str] | None:
    """(selector, label) of a label_values(selector, label) query variable; None for any other variable."""
    if variable.get("type") != "query":
        return None
    query = variable.get("query")
    text = query.get("query") if isinstance(query, dict) else query
    match = _LABEL_VALUES.match(str(text or variable.get("definition", "")))
    if not match or not match.group("selector"):
        return None
    return match.group("selector"), match.group("label")


def variable_query(variable: Json) -> str | None:
    """PromQL returning one series per value of a label_values(selector, label) variable (None: not one)."""
    parsed = _label_values(variable)
    return None if parsed is None else f"group by ({parsed[1]}) ({parsed[0]})"


def variable_values(dashboard: Dashboard, resolve: Callable[[str, str], Sequence[str]] | None = None) -> dict[str, str]:
    """Each dashboard variable as Grafana would substitute it with "All" (or its current value) selected.

    resolve(expr, label) returns a query variable's values from a live Prometheus; without it
    (offline) a multi-value variable becomes ALL_VALUES.
    """
    values: dict[str, str] = {}
    for variable in dashboard.variables():
        name = str(variable["name"])
        kind = variable.get("type")
        if kind in ("constant", "textbox"):
            values[name] = str(variable.get("query", ""))
            continue
        if kind in ("custom", "interval"):
            options = [str(o).strip() for o in str(variable.get("query", "")).split(",") if str(o).strip()]
            values[name] = regex_of(options) if kind == "custom" else (options[0] if options else "1m")
            continue
        expr, parsed = variable_query(variable), _label_values(variable)
        if resolve is not None and expr is not None and parsed is not None:
            values[name] = regex_of(sorted(resolve(substitute(expr, values), parsed[1])))
        else:
            values[name] = ALL_VALUES
    return values


def prometheus_queries(
    dashboards: Sequence[Dashboard] | None = None,
    *,
    resolve: Callable[[str, str], Sequence[str]] | None = None,
    datasources: Mapping[str, str] | None = None,
) -> Iterator[Query]:
    """Every Prometheus expression of the dashboards, variables substituted.

    Panel targets (a target's datasource overrides its panel's), annotation queries and
    label_values() query variables. resolve: see variable_values.
    """
    datasources = provisioned_datasources() if datasources is None else datasources
    default = default_datasource_uid() or ""
    for dashboard in load_dashboards() if dashboards is None else dashboards:
        values = variable_values(dashboard, resolve)
        for panel, ref_id, kind, uid, raw in _expressions(dashboard):
            uid = uid or default
            if datasources.get(uid) == "prometheus":
                expr = substitute(raw, values)
                yield Query(dashboard.uid, dashboard.title, panel, ref_id, kind, uid, raw, expr)


def _expressions(dashboard: Dashboard) -> Iterator[tuple[str, str, Kind, str | None, str]]:
    """(panel, refId, kind, datasource uid, expression) of every query, whatever its datasource."""
    for variable in dashboard.variables():
        expr = variable_query(variable)
        if expr is not None:
            yield f"variable: {variable['name']}", "var", "variable", datasource_uid(variable.get("datasource")), expr
    for annotation in dashboard.annotations():
        target = annotation.get("target")
        expr = annotation.get("expr") or (target.get("expr") if isinstance(target, dict) else None)
        if expr and not annotation.get("builtIn"):
            uid = datasource_uid(annotation.get("datasource"))
            yield f"annotation: {annotation['name']}", "Anno", "annotation", uid, str(expr)
    for panel in dashboard.panels():
        panel_uid = datasource_uid(panel.get("datasource"))
        for target in panel.get("targets", []):
            if target.get("expr"):
                uid = datasource_uid(target.get("datasource")) or panel_uid
                yield str(panel.get("title", "")), str(target.get("refId", "")), "panel", uid, str(target["expr"])
