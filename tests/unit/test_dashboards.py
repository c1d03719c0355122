"""Grafana's provisioning and dashboards, checked without Grafana (it cannot run on the offline path)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from infralab.dashboards import (
    ALL_VALUES,
    DASHBOARDS_DIR,
    DATASOURCES_FILE,
    GRAFANA_DIR,
    PROVIDERS_FILE,
    Dashboard,
    UnknownVariableError,
    load_dashboards,
    prometheus_queries,
    provisioned_datasources,
    regex_of,
    substitute,
    variable_query,
    variable_values,
)
from infralab.logs import shipped_projects

pytestmark = pytest.mark.unit

DASHBOARDS = load_dashboards()
PROVISIONED = provisioned_datasources()
GRAFANA_BUILTIN_DATASOURCES = {"-- Grafana --", "-- Mixed --", "-- Dashboard --"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA_DIR / "build_dashboards.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _walk(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under key, anywhere in a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)


# --- provisioning ---------------------------------------------------------------------------


def test_datasources_have_fixed_uids_and_the_services_path_prefixes() -> None:
    config = yaml.safe_load(DATASOURCES_FILE.read_text())
    by_uid = {ds["uid"]: ds for ds in config["datasources"]}
    assert set(by_uid) == {"prometheus", "loki", "alertmanager"}
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090/prometheus"
    assert by_uid["alertmanager"]["url"] == "http://alertmanager:9093/alertmanager"
    assert by_uid["loki"]["url"] == "http://loki:3100"
    assert [ds["uid"] for ds in config["datasources"] if ds.get("isDefault")] == ["prometheus"]
    assert by_uid["prometheus"]["jsonData"]["alertmanagerUid"] in by_uid


def test_one_dashboard_provider_reads_the_dashboards_folder_read_only() -> None:
    providers = yaml.safe_load(PROVIDERS_FILE.read_text())["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    assert provider["options"]["path"] == "/etc/grafana/dashboards"


# --- dashboards -----------------------------------------------------------------------------


def test_the_committed_json_is_what_the_generator_writes() -> None:
    rendered: dict[str, str] = _generator().render()
    committed = {p.name: p.read_text() for p in DASHBOARDS_DIR.glob("*.json")}
    assert set(committed) == set(rendered), "run python3 monitoring/grafana/build_dashboards.py"
    stale = sorted(name for name, text in rendered.items() if committed[name] != text)
    assert not stale, f"{stale} differ from the generator: run python3 monitoring/grafana/build_dashboards.py"


def test_every_dashboard_of_the_issue_is_there() -> None:
    assert {d.uid for d in DASHBOARDS} == {
        "lab-overview",
        "service-red",
        "nginx",
        "containers-host",
        "jvm-core-server",
        "worker-ext-api",
        "experiments",
    }


def test_uids_and_titles_are_unique_and_valid() -> None:
    uids = [d.uid for d in DASHBOARDS]
    titles = [d.title for d in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)
    for uid in uids:
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid), uid


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_dashboard_conventions(dashboard: Dashboard) -> None:
    model = dashboard.model
    assert 36 <= model["schemaVersion"] <= 41
    assert model["time"] == {"from": "now-30m", "to": "now"}
    assert model["refresh"] == "10s"
    assert "infra-lab" in model["tags"]
    assert "id" not in model or model["id"] is None, "provisioned dashboards carry no database id"
    assert model["description"]


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_every_panel_names_a_provisioned_datasource(dashboard: Dashboard) -> None:
    problems = []
    for panel in dashboard.panels():
        if panel["type"] == "row":
            continue
        where = f"{dashboard.uid} / {panel.get('title')}"
        uid = (panel.get("datasource") or {}).get("uid")
        if uid not in PROVISIONED:
            problems.append(f"{where}: datasource {uid!r}")
        for target in panel.get("targets", []):
            target_uid = (target.get("datasource") or {}).get("uid", uid)
            if target_uid not in PROVISIONED:
                problems.append(f"{where} [{target.get('refId')}]: datasource {target_uid!r}")
            if PROVISIONED.get(target_uid) == "prometheus" and not target.get("expr", "").strip():
                problems.append(f"{where} [{target.get('refId')}]: empty expression")
        if not panel.get("targets"):
            problems.append(f"{where}: no query")
    for item in dashboard.variables() + dashboard.annotations():
        if item.get("type") == "custom":
            continue  # its values are listed in the variable itself
        uid = (item.get("datasource") or {}).get("uid")
        if uid not in PROVISIONED and uid not in GRAFANA_BUILTIN_DATASOURCES:
            problems.append(f"{dashboard.uid} / {item.get('name')}: datasource {uid!r}")
    assert not problems


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_panels_have_unique_ids_titles_and_fit_the_grid_without_overlapping(dashboard: Dashboard) -> None:
    panels = list(dashboard.panels())
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids)
    titles = [p["title"] for p in panels if p["type"] != "row"]
    assert len(set(titles)) == len(titles), "allow-lists and failure messages name panels by title"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0
        assert grid["h"] > 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_panels_are_described_and_have_units(dashboard: Dashboard) -> None:
    for panel in dashboard.panels():
        if panel["type"] in ("timeseries", "stat"):
            assert panel.get("description"), panel["title"]
            assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]


def test_every_expression_in_the_json_is_found() -> None:
    queries = list(prometheus_queries(DASHBOARDS))
    found = {q.raw for q in queries}
    loki = {
        t["expr"]
        for d in DASHBOARDS
        for p in d.panels()
        for t in p.get("targets", [])
        if (t.get("datasource") or p.get("datasource") or {}).get("uid") == "loki"
    }
    in_json = {e for d in DASHBOARDS for e in _walk(d.model, "expr")}
    assert in_json - loki == found - {q.raw for q in queries if q.kind == "variable"}
    panel_targets = sum(
        1
        for d in DASHBOARDS
        for p in d.panels()
        for t in p.get("targets", [])
        if PROVISIONED.get((t.get("datasource") or p.get("datasource") or {}).get("uid")) == "prometheus"
    )
    assert len([q for q in queries if q.kind == "panel"]) == panel_targets
    # The two fault annotations and the deploy markers on each dashboard, one query per label_values() variable.
    assert len([q for q in queries if q.kind == "annotation"]) == 3 * len(DASHBOARDS)
    assert {q.panel for q in queries if q.kind == "variable"} == {
        "variable: service",
        "variable: route",
        "variable: container",
        "variable: instance",
    }


def test_no_expression_keeps_a_variable_after_substitution() -> None:
    leftovers = [str(q) for q in prometheus_queries(DASHBOARDS) if "$" in q.expr or "[[" in q.expr]
    assert not leftovers


def test_every_dashboard_annotates_faults() -> None:
    for dashboard in DASHBOARDS:
        exprs = {a.get("expr") for a in dashboard.annotations()}
        assert {"infralab_fault_active == 1", "chaos_fault_active == 1"} <= exprs, dashboard.uid


def test_every_dashboard_marks_deploys_by_service_version_and_replica() -> None:
    for dashboard in DASHBOARDS:
        (deploys,) = [a for a in dashboard.annotations() if a.get("name") == "Deploys"]
        assert "build_info" in deploys["expr"], dashboard.uid
        # The marker names what its series carry: the expression keeps exactly these labels.
        assert "max by (service, version, instance) (build_info)" in deploys["expr"], dashboard.uid
        named = set(re.findall(r"\{\{(\w+)\}\}", deploys["titleFormat"] + deploys["textFormat"]))
        assert named | set(deploys["tagKeys"].split(",")) == {"service", "version", "instance"}, dashboard.uid


def test_service_red_is_templated_on_service_from_the_recording_rule() -> None:
    red = next(d for d in DASHBOARDS if d.uid == "service-red")
    (variable,) = red.variables()
    assert variable["name"] == "service"
    assert variable["definition"] == "label_values(service:http_requests:rate1m, service)"
    assert variable["includeAll"] is True
    targets = [t["expr"] for p in red.panels() for t in p.get("targets", [])]
    assert all('service=~"$service"' in expr for expr in targets)


RULES_DIR = GRAFANA_DIR.parent / "prometheus" / "rules"
# level:metric:operations, outside quoted strings (label values such as "core-1:8081").
_RECORDED_NAME = re.compile(r"\b[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*[a-zA-Z0-9_]\b")


def _recorded(path: Path) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {r["record"] for g in groups for r in g["rules"] if "record" in r}


def test_panels_use_every_red_recording_rule() -> None:
    recorded = _recorded(RULES_DIR / "red.yml")
    used = {name for q in prometheus_queries(DASHBOARDS) for name in recorded if name in q.expr}
    assert used == recorded


def test_every_recording_rule_a_panel_names_is_defined() -> None:
    # A renamed rule would only show as an empty panel on the live lab: catch it here.
    recorded = set().union(*(_recorded(p) for p in RULES_DIR.glob("*.yml")))
    undefined = {
        f"{q.dashboard} / {q.panel}: {name}"
        for q in prometheus_queries(DASHBOARDS)
        for name in _RECORDED_NAME.findall(re.sub(r'"[^"]*"', '""', q.expr))
        if name not in recorded
    }
    assert not undefined


# --- variable substitution ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('rate(x{service=~"$service"}[$__rate_interval])', 'rate(x{service=~"(a|b)"}[1m])'),
        ('x{service=~"${service}"}', 'x{service=~"(a|b)"}'),
        ('x{service=~"${service:regex}"}', 'x{service=~"(a|b)"}'),
        ('x{service=~"[[service]]"}', 'x{service=~"(a|b)"}'),
        ("increase(x[$__range]) / $__range_s", "increase(x[30m]) / 1800"),
        ("avg_over_time(x[$__interval])", "avg_over_time(x[15s])"),
        ("sum(x) * $__interval_ms + $__range_ms + $__rate_interval_ms", "sum(x) * 15000 + 1800000 + 60000"),
        ("up", "up"),
    ],
)
def test_substitute(expr: str, expected: str) -> None:
    assert substitute(expr, {"service": "(a|b)"}) == expected


def test_substitute_refuses_an_unknown_variable() -> None:
    with pytest.raises(UnknownVariableError, match=r"\$nope"):
        substitute('x{a="$nope"}', {"service": ".+"})


def test_regex_of_formats_values_like_grafana() -> None:
    assert regex_of(["core-server"]) == "core-server"
    assert regex_of(["a", "b"]) == "(a|b)"
    assert regex_of(["core-1:8081", "a.b"]) == "(core-1:8081|a\\\\.b)"
    assert regex_of([]) == ALL_VALUES


def test_variable_query_turns_label_values_into_promql() -> None:
    variable = {"type": "query", "query": {"query": "label_values(up{job='x'}, instance)"}}
    assert variable_query(variable) == "group by (instance) (up{job='x'})"
    assert variable_query({"type": "query", "query": "label_values(instance)"}) is None
    assert variable_query({"type": "custom", "query": "a,b"}) is None


def _dashboard(tmp_path: Path, model: dict[str, Any]) -> Dashboard:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(model))
    return load_dashboards(tmp_path)[0]


def test_variables_are_all_values_offline_and_resolved_live(tmp_path: Path) -> None:
    dashboard = _dashboard(
        tmp_path,
        {
            "uid": "t",
            "title": "T",
            "templating": {
                "list": [
                    {"name": "svc", "type": "query", "query": "label_values(m, service)"},
                    {"name": "env", "type": "custom", "query": "lab, prod"},
                    {"name": "c", "type": "constant", "query": "5m"},
                ]
            },
        },
    )
    assert variable_values(dashboard) == {"svc": ALL_VALUES, "env": "(lab|prod)", "c": "5m"}
    asked = []

    def resolve(expr: str, label: str) -> list[str]:
        asked.append((expr, label))
        return ["worker", "core"]

    assert variable_values(dashboard, resolve)["svc"] == "(core|worker)"
    assert asked == [("group by (service) (m)", "service")]


def test_prometheus_queries_follow_datasources_rows_and_annotations(tmp_path: Path) -> None:
    prom = {"type": "prometheus", "uid": "prometheus"}
    dashboard = _dashboard(
        tmp_path,
        {
            "uid": "t",
            "title": "T",
            "annotations": {
                "list": [
                    {"builtIn": 1, "datasource": {"uid": "-- Grafana --"}, "name": "Annotations & Alerts"},
                    {"datasource": prom, "name": "faults", "expr": "f == 1"},
                ]
            },
            "panels": [
                {"type": "timeseries", "title": "p", "datasource": prom, "targets": [{"refId": "A", "expr": "a"}]},
                {
                    "type": "timeseries",
                    "title": "mixed",
                    "datasource": {"uid": "-- Mixed --"},
                    "targets": [
                        {"refId": "A", "datasource": prom, "expr": "b[$__rate_interval]"},
                        {"refId": "B", "datasource": {"uid": "loki"}, "expr": '{service="x"}'},
                    ],
                },
                {
                    "type": "row",
                    "title": "collapsed",
                    "collapsed": True,
                    "panels": [{"type": "stat", "title": "inner", "targets": [{"refId": "A", "expr": "c"}]}],
                },
            ],
        },
    )
    found = [(q.panel, q.ref_id, q.kind, q.expr) for q in prometheus_queries([dashboard], datasources=PROVISIONED)]
    assert found == [
        ("annotation: faults", "Anno", "annotation", "f == 1"),
        ("p", "A", "panel", "a"),
        ("mixed", "A", "panel", "b[1m]"),
        # No datasource: Grafana's default, Prometheus.
        ("inner", "A", "panel", "c"),
    ]


def test_the_project_variable_offers_exactly_the_labs_alloy_ships() -> None:
    # Both labs' logs land in Loki with the same service names: the variable picks one.
    options = {
        v["name"]: [o["value"] for o in v["options"]]
        for d in DASHBOARDS
        for v in d.variables()
        if v["name"] == "project"
    }
    assert options, "no dashboard has a project variable"
    assert all(set(values) == shipped_projects() for values in options.values())
