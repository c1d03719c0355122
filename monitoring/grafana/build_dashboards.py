#!/usr/bin/env python3
"""The lab's Grafana dashboards, written to dashboards/*.json (the files Grafana provisions).

Edit the dashboards here, then run `python3 monitoring/grafana/build_dashboards.py` and commit the
JSON with it: tests/unit/test_dashboards.py fails while the committed JSON differs from what this
script writes. The JSON stays the reviewable artefact (one panel per block, keys in a fixed order);
this script only keeps layout, ids, datasource references and defaults consistent.

Standard library only: no build dependency, nothing to keep in step with Grafana's releases.
Every PromQL expression here is executed against the live Prometheus by
tests/smoke/test_dashboard_queries.py (via infralab.dashboards), so it must run on the
Prometheus versions of both image paths (2.42 offline, 2.55 official).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
# The provisioned datasources (provisioning/datasources/datasources.yml), by fixed uid.
PROMETHEUS: Json = {"type": "prometheus", "uid": "prometheus"}
LOKI: Json = {"type": "loki", "uid": "loki"}
GRAFANA: Json = {"type": "grafana", "uid": "-- Grafana --"}
TAG = "infra-lab"
SCHEMA_VERSION = 39
GRID_WIDTH = 24
# Rate window of panels (the recording rules use 1m). Grafana makes it at least 4 scrape
# intervals (the datasource's timeInterval is the lab's 5 s scrape interval).
RATE = "$__rate_interval"

# cAdvisor names a container's Compose service in this label (Docker labels are exported).
COMPOSE_SERVICE = "container_label_com_docker_compose_service"


# --- building blocks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Q:
    """One query of a panel: PromQL (or LogQL for a logs panel) and its legend."""

    expr: str
    legend: str = "__auto"
    instant: bool = False
    table: bool = False


@dataclass
class Panel:
    body: Json
    w: int
    h: int


def _steps(*steps: tuple[str, float | None]) -> Json:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


GOOD_HIGH = _steps(("red", None), ("orange", 0.95), ("green", 0.99))
GOOD_LOW = _steps(("green", None), ("orange", 0.5), ("red", 1))
ZERO_IS_GOOD = _steps(("green", None), ("red", 1))
# Error-budget burn rate: 1 spends the budget over the SLO period; slo.yml alerts at 6 and 14.4.
BURN = _steps(("green", None), ("yellow", 1), ("orange", 6), ("red", 14.4))
AVAILABILITY_BUDGET = 0.005  # SLO 99.5% of /api requests without a 5xx
LATENCY_BUDGET = 0.01  # SLO 99% of /api requests within 500 ms
NEUTRAL = _steps(("blue", None))


def _targets(queries: Sequence[Q], datasource: Json) -> list[Json]:
    targets = []
    for index, query in enumerate(queries):
        target: Json = {"refId": chr(ord("A") + index), "datasource": datasource}
        if datasource is LOKI:
            target |= {"expr": query.expr, "queryType": "range"}
        else:
            target |= {
                "editorMode": "code",
                "expr": query.expr,
                "legendFormat": query.legend,
                "range": not query.instant,
                "instant": query.instant,
            }
            if query.table:
                target["format"] = "table"
        targets.append(target)
    return targets


def timeseries(
    title: str,
    *queries: Q,
    description: str,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    min_value: float | None = 0,
    max_value: float | None = None,
    thresholds: Json | None = None,
) -> Panel:
    defaults: Json = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "line" if thresholds else "off"},
        },
        "thresholds": thresholds or NEUTRAL,
    }
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    return Panel(
        {
            "type": "timeseries",
            "title": title,
            "description": description,
            "datasource": PROMETHEUS,
            "targets": _targets(queries, PROMETHEUS),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
                "tooltip": {"mode": "multi", "sort": "desc"},
            },
        },
        w,
        h,
    )


def stat(
    title: str,
    *queries: Q,
    description: str,
    unit: str = "short",
    thresholds: Json = NEUTRAL,
    w: int = 4,
    h: int = 4,
    decimals: int | None = None,
    mappings: list[Json] | None = None,
    text_mode: str = "auto",
) -> Panel:
    defaults: Json = {
        "unit": unit,
        "color": {"mode": "thresholds"},
        "thresholds": thresholds,
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return Panel(
        {
            "type": "stat",
            "title": title,
            "description": description,
            "datasource": PROMETHEUS,
            "targets": _targets(queries, PROMETHEUS),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background",
                "graphMode": "area",
                "justifyMode": "auto",
                "orientation": "auto",
                "textMode": text_mode,
                "wideLayout": True,
                "showPercentChange": False,
            },
        },
        w,
        h,
    )


def table(title: str, query: Q, *, description: str, hide: Sequence[str], w: int = 12, h: int = 8) -> Panel:
    """An instant query as a table, one row per series (labels as columns)."""
    instant = Q(query.expr, query.legend, instant=True, table=True)
    return Panel(
        {
            "type": "table",
            "title": title,
            "description": description,
            "datasource": PROMETHEUS,
            "targets": _targets([instant], PROMETHEUS),
            "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": []},
            "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
            "transformations": [
                {
                    "id": "organize",
                    "options": {"excludeByName": dict.fromkeys(hide, True), "indexByName": {}, "renameByName": {}},
                }
            ],
        },
        w,
        h,
    )


def logs(title: str, expr: str, *, description: str, w: int = 24, h: int = 10) -> Panel:
    return Panel(
        {
            "type": "logs",
            "title": title,
            "description": description,
            "datasource": LOKI,
            "targets": _targets([Q(expr)], LOKI),
            "options": {
                "showTime": True,
                "wrapLogMessage": True,
                "sortOrder": "Descending",
                "enableLogDetails": True,
                "dedupStrategy": "none",
                "prettifyLogMessage": False,
                "showLabels": False,
                "showCommonLabels": False,
            },
        },
        w,
        h,
    )


def row(title: str) -> Panel:
    return Panel({"type": "row", "title": title, "collapsed": False, "panels": []}, GRID_WIDTH, 1)


def _layout(panels: Iterable[Panel]) -> list[Json]:
    """Left to right, wrapping at the grid's width; a row starts on a line of its own."""
    laid_out = []
    x = y = line_height = 0
    for number, panel in enumerate(panels, start=1):
        if panel.body["type"] == "row" or x + panel.w > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        grid = {"h": panel.h, "w": panel.w, "x": x, "y": y}
        laid_out.append({"id": number, "gridPos": grid} | panel.body)
        x += panel.w
        line_height = max(line_height, panel.h)
    return laid_out


def query_variable(name: str, label: str, query: str) -> Json:
    """A multi-value variable from label_values(); "All" is Grafana's regex of every current value."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
        "skipUrlSync": False,
    }


# Alloy ships both labs' logs (the people's `infralab` and the suite's `infralab-test`, its keep
# rule) with the same service names: every LogQL names one project, the people's by default.
PROJECT_VARIABLE: Json = {
    "name": "project",
    "label": "Lab (compose project)",
    "type": "custom",
    "query": "infralab,infralab-test",
    "current": {"selected": True, "text": "infralab", "value": "infralab"},
    "options": [
        {"selected": True, "text": "infralab", "value": "infralab"},
        {"selected": False, "text": "infralab-test", "value": "infralab-test"},
    ],
    "includeAll": False,
    "multi": False,
    "hide": 0,
    "skipUrlSync": False,
}
# Levels an operator must look at, as Alloy writes them (lowercased): Logback/tracing/slog's error,
# nginx's crit/alert/emerg, PostgreSQL's fatal/panic.
ERROR_LEVELS = "error|crit|alert|emerg|fatal|panic"


# A deploy (or rollback) marker: a (service, version) that appears on a replica (`instance`: core's
# two replicas are marked one by one in a rolling deploy). From build_info{service,version,commit},
# which every replica exports. "New" = there now, not a minute ago: a one-minute region from the
# first scrape of the new version. A restart of the same version leaves a scrape gap that looks just
# like that, so a marker also needs a second version on that replica within 5 minutes: a restart,
# an OOM kill or a Prometheus outage marks nothing, nor does the lab's start (one version only).
DEPLOY_MARKERS = (
    "(max by (service, version, instance) (build_info)"
    " unless max by (service, version, instance) (build_info offset 1m))"
    " and on (instance) (count by (instance) (count by (instance, version) (max_over_time(build_info[5m]))) > 1)"
)

# Faults on every dashboard's graphs: admin-server's fault-control plane and the services' own
# chaos contract. Series exist once a fault has been injected (admin) or from start (chaos, 0).
# And deploys, above.
ANNOTATIONS: list[Json] = [
    {
        "builtIn": 1,
        "datasource": GRAFANA,
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    },
    {
        "name": "Faults (admin-server)",
        "datasource": PROMETHEUS,
        "enable": True,
        "iconColor": "red",
        "expr": "infralab_fault_active == 1",
        "step": "10s",
        "titleFormat": "fault {{type}}",
        "textFormat": "{{type}} on {{target}}",
        "tagKeys": "type,target",
        "useValueForTime": False,
    },
    {
        "name": "Chaos (in-service)",
        "datasource": PROMETHEUS,
        "enable": True,
        "iconColor": "orange",
        "expr": "chaos_fault_active == 1",
        "step": "10s",
        "titleFormat": "chaos {{kind}}",
        "textFormat": "{{kind}} in {{service}} ({{instance}})",
        "tagKeys": "kind,service,instance",
        "useValueForTime": False,
    },
    {
        "name": "Deploys",
        "datasource": PROMETHEUS,
        "enable": True,
        "iconColor": "blue",
        "expr": DEPLOY_MARKERS,
        "step": "10s",
        "titleFormat": "deploy {{service}} {{version}}",
        "textFormat": "{{service}} {{version}} on {{instance}}",
        "tagKeys": "service,version,instance",
        "useValueForTime": False,
    },
]

LINKS: list[Json] = [
    {
        "title": "infra-lab",
        "type": "dashboards",
        "tags": [TAG],
        "asDropdown": True,
        "includeVars": False,
        "keepTime": True,
        "targetBlank": False,
        "icon": "external link",
        "tooltip": "",
        "url": "",
    },
    {
        "title": "Alertmanager",
        "type": "link",
        "url": "/alertmanager/#/alerts",
        "tags": [],
        "asDropdown": False,
        "includeVars": False,
        "keepTime": False,
        "targetBlank": True,
        "icon": "bolt",
        "tooltip": "Alertmanager's own UI (ops basic auth): groups, silences",
    },
    {
        "title": "Prometheus alerts",
        "type": "link",
        "url": "/prometheus/alerts",
        "tags": [],
        "asDropdown": False,
        "includeVars": False,
        "keepTime": False,
        "targetBlank": True,
        "icon": "bolt",
        "tooltip": "Alert rules and their state in Prometheus (ops basic auth)",
    },
]


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    tags: list[str]
    panels: list[Panel]
    variables: list[Json] = field(default_factory=list)

    def model(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG, *self.tags],
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "time": {"from": "now-30m", "to": "now"},
            "refresh": "10s",
            "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
            "timezone": "browser",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "links": LINKS,
            "annotations": {"list": ANNOTATIONS},
            "templating": {"list": self.variables},
            "panels": _layout(self.panels),
        }


# --- the dashboards -------------------------------------------------------------------------


def lab_overview() -> Dashboard:
    return Dashboard(
        "lab-overview",
        "Lab overview",
        "Is the lab healthy? SLOs at the entry point and per service, what fires, what is injected.",
        ["overview", "slo"],
        [
            row("SLOs (1m windows, from the RED recording rules)"),
            stat(
                "Entry point availability (/api/)",
                Q('1 - route:nginx_http_requests_5xx:ratio_rate1m{route="api"}', "/api/"),
                description="Share of /api/ requests nginx answered without a 5xx (mtail, 1m). "
                "EntryPoint5xxRatioHigh fires below 95%.",
                unit="percentunit",
                thresholds=GOOD_HIGH,
                decimals=2,
                w=5,
            ),
            stat(
                "Availability by service",
                Q("1 - service:http_requests_5xx:ratio_rate1m", "{{service}}"),
                description="Share of each service's requests answered without a 5xx (1m). "
                "HighErrorRatio fires below 95%. A service with no traffic shows no value.",
                unit="percentunit",
                thresholds=GOOD_HIGH,
                decimals=2,
                w=7,
            ),
            stat(
                "p95 latency now",
                Q("service:http_request_duration_seconds:p95_1m", "{{service}}"),
                description="95th percentile of each service's request duration (1m).",
                unit="s",
                thresholds=GOOD_LOW,
                w=7,
            ),
            stat(
                "Requests/s at the entry point",
                Q("sum(route:nginx_http_requests:rate1m)", "nginx"),
                description="Every request nginx answered, all routes (synthetic traffic included).",
                unit="reqps",
                w=5,
            ),
            row("Error budget of core-server's /api SLOs (slo.yml; lab windows 12x shorter than the workbook's)"),
            stat(
                "Availability burn rate (5m)",
                Q(f"service:slo_availability_errors:ratio_rate5m / {AVAILABILITY_BUDGET}", "{{service}}"),
                description="5xx share of /api requests over 5m divided by the 0.5% budget (SLO 99.5%). "
                "1 spends the budget exactly over the SLO period; 14.4 (with the 30s window) pages.",
                thresholds=BURN,
                decimals=1,
                w=6,
                h=5,
            ),
            stat(
                "Latency burn rate (5m)",
                Q(f"service:slo_latency_errors:ratio_rate5m / {LATENCY_BUDGET}", "{{service}}"),
                description="Share of /api requests slower than 500 ms over 5m divided by the 1% budget (SLO 99%).",
                thresholds=BURN,
                decimals=1,
                w=6,
                h=5,
            ),
            timeseries(
                "Burn rates by window",
                Q(f"service:slo_availability_errors:ratio_rate30s / {AVAILABILITY_BUDGET}", "availability 30s"),
                Q(f"service:slo_availability_errors:ratio_rate5m / {AVAILABILITY_BUDGET}", "availability 5m"),
                Q(f"service:slo_availability_errors:ratio_rate30m / {AVAILABILITY_BUDGET}", "availability 30m"),
                Q(f"service:slo_latency_errors:ratio_rate30s / {LATENCY_BUDGET}", "latency 30s"),
                Q(f"service:slo_latency_errors:ratio_rate5m / {LATENCY_BUDGET}", "latency 5m"),
                Q(f"service:slo_latency_errors:ratio_rate30m / {LATENCY_BUDGET}", "latency 30m"),
                description="Fast burn (critical): 5m and 30s both above 14.4. Slow burn (warning): 30m and 2m30s "
                "both above 6. Lines: 6 and 14.4.",
                thresholds=_steps(("green", None), ("orange", 6), ("red", 14.4)),
                w=12,
                h=5,
            ),
            row("Now"),
            stat(
                "Scrape targets down",
                Q("sum(1 - up)", "down"),
                description="Prometheus targets whose last scrape failed (0 when all are up).",
                thresholds=ZERO_IS_GOOD,
                w=4,
                h=5,
            ),
            stat(
                "Alerts firing by severity",
                Q('count by (severity) (ALERTS{alertstate="firing"})', "{{severity}}"),
                description="Watchdog always fires (warning): 1 warning is the healthy state; "
                "no value at all means the rules are not evaluated.",
                w=5,
                h=5,
            ),
            stat(
                "Faults active (admin-server)",
                Q(
                    "sum(infralab_fault_active) or sum(infralab_fault_injections_total) * 0",
                    "faults",
                ),
                description="Faults admin-server holds active now. Zero-filled from the per-type injection "
                "counters admin-server creates at start, so it still shows nothing if admin-server is not scraped.",
                thresholds=_steps(("green", None), ("orange", 1)),
                w=5,
                h=5,
            ),
            stat(
                "Chaos faults active (in services)",
                Q("sum by (service) (chaos_fault_active)", "{{service}}"),
                description="Chaos-contract faults active inside each service (all kinds, all replicas).",
                thresholds=_steps(("green", None), ("orange", 1)),
                w=10,
                h=5,
            ),
            table(
                "Firing alerts",
                Q('ALERTS{alertstate="firing"}'),
                description="Alerts Prometheus sends to Alertmanager now (ALERTS series). Silences and routing: "
                "the Alertmanager link above, or Grafana's Alerting pages with the Alertmanager datasource.",
                hide=["Time", "Value", "__name__", "alertstate", "lab"],
                w=24,
                h=7,
            ),
            row("Traffic"),
            timeseries(
                "Requests/s by service",
                Q("service:http_requests:rate1m", "{{service}}"),
                description="service:http_requests:rate1m (app ports only; ops-port scrapes are not counted).",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "5xx ratio by service",
                Q("service:http_requests_5xx:ratio_rate1m", "{{service}}"),
                description="service:http_requests_5xx:ratio_rate1m; the line is HighErrorRatio's 5% threshold.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.05)),
                w=8,
            ),
            timeseries(
                "p95 latency by service",
                Q("service:http_request_duration_seconds:p95_1m", "{{service}}"),
                description="service:http_request_duration_seconds:p95_1m.",
                unit="s",
                w=8,
            ),
            timeseries(
                "Entry point requests/s by route",
                Q("route:nginx_http_requests:rate1m", "/{{route}}/"),
                description="route:nginx_http_requests:rate1m (nginx access lines via mtail).",
                unit="reqps",
                w=12,
            ),
            timeseries(
                "Entry point 5xx ratio by route",
                Q("route:nginx_http_requests_5xx:ratio_rate1m", "/{{route}}/"),
                description="route:nginx_http_requests_5xx:ratio_rate1m; the line is EntryPoint5xxRatioHigh's 5%.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.05)),
                w=12,
            ),
            row("Logs"),
            logs(
                "Error log lines (every service)",
                f'{{project="$project", level=~"{ERROR_LEVELS}"}}',
                description="Loki (logs profile): error lines of every container of the chosen lab, newest first. "
                "Alloy reads the level from JSON, logfmt, nginx's error_log and PostgreSQL's format and "
                "lowercases it. Empty when Loki does not run (offline path).",
            ),
        ],
        [PROJECT_VARIABLE],
    )


def service_red() -> Dashboard:
    svc = 'service=~"$service"'
    return Dashboard(
        "service-red",
        "Service RED",
        "Rate, errors and duration per service (core-server, worker-server, admin-server), "
        "from the recording rules of monitoring/prometheus/rules/red.yml.",
        ["red", "services"],
        [
            row("RED (recording rules)"),
            timeseries(
                "Requests/s",
                Q(f"service:http_requests:rate1m{{{svc}}}", "{{service}}"),
                description="service:http_requests:rate1m.",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "5xx/s",
                Q(f"service:http_requests_5xx:rate1m{{{svc}}}", "{{service}}"),
                description="service:http_requests_5xx:rate1m (0, not absent, while a service with traffic has none).",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "5xx ratio",
                Q(f"service:http_requests_5xx:ratio_rate1m{{{svc}}}", "{{service}}"),
                description="service:http_requests_5xx:ratio_rate1m; the line is HighErrorRatio's 5%.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.05)),
                w=8,
            ),
            timeseries(
                "p95 latency",
                Q(f"service:http_request_duration_seconds:p95_1m{{{svc}}}", "{{service}}"),
                description="service:http_request_duration_seconds:p95_1m.",
                unit="s",
                w=12,
            ),
            timeseries(
                "Scrape up",
                Q(f"up{{{svc}}}", "{{service}} {{instance}}"),
                description="1 while Prometheus scrapes the replica's ops port.",
                min_value=0,
                max_value=1,
                w=12,
            ),
            row("By route and status (each ecosystem's own metric)"),
            timeseries(
                "Requests/s by route and status",
                Q(
                    "sum by (service, uri, status) "
                    f'(rate(http_server_requests_seconds_count{{job="core-server", {svc}}}[{RATE}]))',
                    "{{service}} {{uri}} {{status}}",
                ),
                Q(
                    "sum by (service, route, status) "
                    f'(rate(http_server_requests_total{{job="worker-server", {svc}}}[{RATE}]))',
                    "{{service}} {{route}} {{status}}",
                ),
                Q(
                    f'sum by (service, route, code) (rate(http_requests_total{{job="admin-server", {svc}}}[{RATE}]))',
                    "{{service}} {{route}} {{code}}",
                ),
                description="core-server: Micrometer (uri, status); worker-server: prometheus crate (route, status); "
                "admin-server: client_golang (route, code).",
                unit="reqps",
                w=24,
                h=9,
            ),
            timeseries(
                "p95 latency by route",
                Q(
                    "histogram_quantile(0.95, sum by (service, uri, le) "
                    f'(rate(http_server_requests_seconds_bucket{{job="core-server", {svc}}}[{RATE}])))',
                    "{{service}} {{uri}}",
                ),
                Q(
                    "histogram_quantile(0.95, sum by (service, route, le) "
                    f'(rate(http_server_request_duration_seconds_bucket{{job="worker-server", {svc}}}[{RATE}])))',
                    "{{service}} {{route}}",
                ),
                Q(
                    "histogram_quantile(0.95, sum by (service, route, le) "
                    f'(rate(http_request_duration_seconds_bucket{{job="admin-server", {svc}}}[{RATE}])))',
                    "{{service}} {{route}}",
                ),
                description="Per route; empty (NaN) for a route without requests in the window.",
                unit="s",
                w=24,
                h=9,
            ),
            row("Process"),
            timeseries(
                "CPU (cores)",
                Q(
                    f"sum by (service, instance) (rate(process_cpu_seconds_total{{{svc}}}[{RATE}]))",
                    "{{service}} {{instance}}",
                ),
                Q(
                    f"sum by (service, instance) (process_cpu_usage{{{svc}}} * system_cpu_count{{{svc}}})",
                    "{{service}} {{instance}}",
                ),
                description="worker-server and admin-server: process_cpu_seconds_total; core-server (Micrometer): "
                "process_cpu_usage (share of all CPUs) times system_cpu_count.",
                unit="short",
                w=12,
            ),
            timeseries(
                "Resident memory",
                Q(f"process_resident_memory_bytes{{{svc}}}", "{{service}} {{instance}}"),
                description="worker-server and admin-server RSS; core-server's memory is on the JVM dashboard "
                "and, against its limit, on Containers and host.",
                unit="bytes",
                w=12,
            ),
        ],
        [query_variable("service", "Service", "label_values(service:http_requests:rate1m, service)")],
    )


def nginx() -> Dashboard:
    route = 'route=~"$route"'
    return Dashboard(
        "nginx",
        "nginx entry point",
        "The lab's only entry point, from nginx's JSON access lines (mtail) and the route:* recording rules. "
        "A 502/504 born in nginx shows here and in no backend.",
        ["nginx", "red"],
        [
            row("Per route (recording rules)"),
            timeseries(
                "Requests/s by route",
                Q(f"route:nginx_http_requests:rate1m{{{route}}}", "/{{route}}/"),
                description="route:nginx_http_requests:rate1m.",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "5xx/s by route",
                Q(f"route:nginx_http_requests_5xx:rate1m{{{route}}}", "/{{route}}/"),
                description="route:nginx_http_requests_5xx:rate1m (0 while the route has traffic and no 5xx).",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "5xx ratio by route",
                Q(f"route:nginx_http_requests_5xx:ratio_rate1m{{{route}}}", "/{{route}}/"),
                description="route:nginx_http_requests_5xx:ratio_rate1m; the line is EntryPoint5xxRatioHigh's 5%.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.05)),
                w=8,
            ),
            row("By status"),
            timeseries(
                "Requests/s by status",
                Q(f"sum by (status) (rate(nginx_http_requests_total{{{route}}}[{RATE}]))", "{{status}}"),
                description="Every answer of nginx by HTTP status (502 and 504 included).",
                unit="reqps",
                stack=True,
                w=12,
            ),
            timeseries(
                "Requests/s by route, method and status",
                Q(
                    f"sum by (route, method, status) (rate(nginx_http_requests_total{{{route}}}[{RATE}]))",
                    "/{{route}}/ {{method}} {{status}}",
                ),
                description="nginx_http_requests_total split every way mtail labels it.",
                unit="reqps",
                w=12,
            ),
            row("Request time (nginx's request_time: client to last byte, upstream included)"),
            timeseries(
                "Request time p50 / p95 / p99 by route",
                Q(
                    "histogram_quantile(0.5, sum by (route, le) "
                    f"(rate(nginx_http_request_duration_seconds_bucket{{{route}}}[{RATE}])))",
                    "p50 /{{route}}/",
                ),
                Q(
                    "histogram_quantile(0.95, sum by (route, le) "
                    f"(rate(nginx_http_request_duration_seconds_bucket{{{route}}}[{RATE}])))",
                    "p95 /{{route}}/",
                ),
                Q(
                    "histogram_quantile(0.99, sum by (route, le) "
                    f"(rate(nginx_http_request_duration_seconds_bucket{{{route}}}[{RATE}])))",
                    "p99 /{{route}}/",
                ),
                description="From mtail's nginx_http_request_duration_seconds histogram (request_time). "
                "upstream_response_time is in the access log (Loki) but not exported as a metric.",
                unit="s",
                w=16,
            ),
            stat(
                "mtail scrape",
                Q('up{job="nginx"}', "mtail"),
                description="0: Prometheus cannot scrape mtail, and every panel here goes blank.",
                thresholds=_steps(("red", None), ("green", 1)),
                mappings=[{"type": "value", "options": {"0": {"text": "down"}, "1": {"text": "up"}}}],
                w=8,
                h=8,
            ),
        ],
        [query_variable("route", "Route", "label_values(route:nginx_http_requests:rate1m, route)")],
    )


def containers_and_host() -> Dashboard:
    sel = f'job="cadvisor", {COMPOSE_SERVICE}=~"$container"'
    by = f"sum by ({COMPOSE_SERVICE})"
    legend = "{{" + COMPOSE_SERVICE + "}}"
    node = 'job="node"'
    return Dashboard(
        "containers-host",
        "Containers and host",
        "Per Compose service (cAdvisor) against its limits, and the host (node-exporter).",
        ["containers", "host"],
        [
            row("Containers (cAdvisor, by Compose service)"),
            timeseries(
                "CPU (cores)",
                Q(f"{by} (rate(container_cpu_usage_seconds_total{{{sel}}}[{RATE}]))", legend),
                description="CPU time per second; compare with the service's deploy.resources.limits.cpus.",
                w=12,
            ),
            timeseries(
                "CPU used / limit",
                Q('container:cpu_usage:ratio_limit_rate1m{container=~"$container"}', "{{container}}"),
                description="container:cpu_usage:ratio_limit_rate1m (containers.yml): ContainerCpuSaturated at 90%.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.9)),
                w=12,
            ),
            timeseries(
                "CPU throttled share of periods",
                Q('container:cpu_cfs_throttled_periods:ratio_rate30s{container=~"$container"}', "{{container}}"),
                description="Periods in which the container hit its CFS quota (containers.yml); "
                "ContainerCpuThrottled above 25% while using over half its limit.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.25)),
                w=12,
            ),
            timeseries(
                "Memory working set",
                Q(f"{by} (container_memory_working_set_bytes{{{sel}}})", legend),
                description="What the kernel counts against the limit (OOM kill when it reaches it).",
                unit="bytes",
                w=12,
            ),
            timeseries(
                "Memory working set / limit",
                Q('container:memory_working_set:ratio_limit{container=~"$container"}', "{{container}}"),
                description="container:memory_working_set:ratio_limit (containers.yml): ContainerMemoryNearLimit "
                "at 90%; 1 is the OOM kill.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("orange", 0.8), ("red", 0.9)),
                max_value=1,
                w=12,
            ),
            timeseries(
                "OOM events",
                Q(f"{by} (increase(container_oom_events_total{{{sel}}}[{RATE}]))", legend),
                description="Out-of-memory kills inside the container (0 from start, per container). A kill of the "
                "main process may not show: cAdvisor drops the counter with the cgroup; see (re)starts.",
                thresholds=ZERO_IS_GOOD,
                w=6,
            ),
            timeseries(
                "Container (re)starts",
                Q(f"{by} (changes(container_start_time_seconds{{{sel}}}[{RATE}]))", legend),
                description="Changes of the container's start time: a restart (crash, kill, restart fault).",
                thresholds=ZERO_IS_GOOD,
                w=6,
            ),
            timeseries(
                "Network received / sent",
                Q(f"{by} (rate(container_network_receive_bytes_total{{{sel}}}[{RATE}]))", "rx " + legend),
                Q(f"-{by} (rate(container_network_transmit_bytes_total{{{sel}}}[{RATE}]))", "tx " + legend),
                description="Bytes per second (sent drawn below zero).",
                unit="Bps",
                min_value=None,
                w=24,
                h=6,
            ),
            row("Host (node-exporter)"),
            stat(
                "CPU busy",
                Q(f'1 - avg(rate(node_cpu_seconds_total{{{node}, mode="idle"}}[{RATE}]))', "busy"),
                description="Share of all cores not idle.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("orange", 0.7), ("red", 0.9)),
            ),
            stat(
                "Memory used",
                Q(f"1 - node_memory_MemAvailable_bytes{{{node}}} / node_memory_MemTotal_bytes{{{node}}}", "used"),
                description="1 - MemAvailable / MemTotal.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("orange", 0.8), ("red", 0.9)),
            ),
            stat(
                "Root filesystem used",
                Q(
                    f'1 - node_filesystem_avail_bytes{{{node}, mountpoint="/"}}'
                    f' / node_filesystem_size_bytes{{{node}, mountpoint="/"}}',
                    "/",
                ),
                description="The host's / (node-exporter reads it through /host/root).",
                unit="percentunit",
                thresholds=_steps(("green", None), ("orange", 0.8), ("red", 0.9)),
            ),
            stat(
                "Load (1m) per core",
                Q(f'node_load1{{{node}}} / scalar(count(node_cpu_seconds_total{{{node}, mode="idle"}}))', "load1/core"),
                description="Above 1: more runnable tasks than cores.",
                thresholds=_steps(("green", None), ("orange", 1), ("red", 2)),
                decimals=2,
            ),
            stat(
                "Cores",
                Q(f'count(node_cpu_seconds_total{{{node}, mode="idle"}})', "cores"),
                description="CPUs the host shows.",
            ),
            stat(
                "Memory total",
                Q(f"node_memory_MemTotal_bytes{{{node}}}", "total"),
                description="The host's RAM.",
                unit="bytes",
            ),
            timeseries(
                "CPU by mode",
                Q(
                    f'sum by (mode) (rate(node_cpu_seconds_total{{{node}, mode!="idle"}}[{RATE}]))'
                    f' / scalar(count(node_cpu_seconds_total{{{node}, mode="idle"}}))',
                    "{{mode}}",
                ),
                description="Share of all cores per mode (idle left out); iowait shows a saturated disk.",
                unit="percentunit",
                stack=True,
                w=12,
            ),
            timeseries(
                "Memory",
                Q(f"node_memory_MemTotal_bytes{{{node}}} - node_memory_MemAvailable_bytes{{{node}}}", "used"),
                Q(f"node_memory_MemAvailable_bytes{{{node}}}", "available"),
                description="Used = MemTotal - MemAvailable (page cache that can be dropped counts as available).",
                unit="bytes",
                stack=True,
                w=12,
            ),
            timeseries(
                "Filesystem used",
                Q(
                    "1 - mountpoint:node_filesystem_avail_bytes:watched"
                    " / mountpoint:node_filesystem_size_bytes:watched",
                    "{{mountpoint}}",
                ),
                Q("1 - path:disk_free_bytes:watched / path:disk_total_bytes:watched", "{{container}} {{mountpoint}}"),
                description="What the disk alerts watch: the host's real filesystems (node-exporter) and each core "
                "replica's data volume (/data, from core-server's own disk metrics; the disk fault fills it).",
                unit="percentunit",
                max_value=1,
                w=8,
            ),
            timeseries(
                "Disk I/O",
                Q(f"rate(node_disk_read_bytes_total{{{node}}}[{RATE}])", "read {{device}}"),
                Q(f"-rate(node_disk_written_bytes_total{{{node}}}[{RATE}])", "write {{device}}"),
                description="Bytes per second per block device (writes drawn below zero).",
                unit="Bps",
                min_value=None,
                w=8,
            ),
            timeseries(
                "Network",
                Q(
                    f'rate(node_network_receive_bytes_total{{{node}, device!~"lo|veth.*|br-.*|docker.*"}}[{RATE}])',
                    "rx {{device}}",
                ),
                Q(
                    f'-rate(node_network_transmit_bytes_total{{{node}, device!~"lo|veth.*|br-.*|docker.*"}}[{RATE}])',
                    "tx {{device}}",
                ),
                description="Physical interfaces (loopback and Docker's bridges left out).",
                unit="Bps",
                min_value=None,
                w=8,
            ),
        ],
        [query_variable("container", "Compose service", "label_values(container:compose_service:info, container)")],
    )


def jvm() -> Dashboard:
    sel = 'job="core-server", instance=~"$instance"'
    pool = f'{sel}, pool="core-db"'
    return Dashboard(
        "jvm-core-server",
        "JVM (core-server)",
        "core-server's replicas from Micrometer: heap, GC, threads, HikariCP pool to PostgreSQL. "
        "SerialGC, heap at 50% of the 512 MiB container limit (core-server/jvm.options).",
        ["jvm", "core-server"],
        [
            row("Memory"),
            timeseries(
                "Heap",
                Q(f'sum by (instance) (jvm_memory_used_bytes{{{sel}, area="heap"}})', "used {{instance}}"),
                Q(f'sum by (instance) (jvm_memory_max_bytes{{{sel}, area="heap"}} > 0)', "max {{instance}}"),
                description="All heap pools summed; the JVM exits (ExitOnOutOfMemoryError) when used cannot fit.",
                unit="bytes",
                w=8,
            ),
            timeseries(
                "Heap used / max",
                Q(
                    f'sum by (instance) (jvm_memory_used_bytes{{{sel}, area="heap"}}'
                    f' and jvm_memory_max_bytes{{{sel}, area="heap"}} > 0)'
                    f' / sum by (instance) (jvm_memory_max_bytes{{{sel}, area="heap"}} > 0)',
                    "{{instance}}",
                ),
                description="As JvmHeapUsageHigh computes it (jvm.yml): above 90% for 30 s after collections.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.9)),
                max_value=1,
                w=8,
            ),
            timeseries(
                "Live data after GC",
                Q(f"jvm_gc_live_data_size_bytes{{{sel}}}", "live {{instance}}"),
                Q(f"jvm_gc_max_data_size_bytes{{{sel}}}", "old gen max {{instance}}"),
                description="Old generation after a full collection: a steady climb is a leak (the memory fault).",
                unit="bytes",
                w=8,
            ),
            timeseries(
                "Heap by pool",
                Q(f'jvm_memory_used_bytes{{{sel}, area="heap"}}', "{{instance}} {{id}}"),
                description="Eden, survivor and tenured spaces.",
                unit="bytes",
                w=8,
            ),
            timeseries(
                "Non-heap by pool",
                Q(f'jvm_memory_used_bytes{{{sel}, area="nonheap"}}', "{{instance}} {{id}}"),
                description="Metaspace (capped at 128 MiB), code cache, compressed class space.",
                unit="bytes",
                w=8,
            ),
            timeseries(
                "Allocation rate",
                Q(f"rate(jvm_gc_memory_allocated_bytes_total{{{sel}}}[{RATE}])", "{{instance}}"),
                description="Bytes allocated in the young generation per second.",
                unit="Bps",
                w=8,
            ),
            row("GC"),
            timeseries(
                "Time in GC pauses",
                Q(
                    f"sum by (instance, gc) (rate(jvm_gc_pause_seconds_sum{{{sel}}}[{RATE}]))",
                    "{{instance}} {{gc}}",
                ),
                description="Seconds paused per second; JvmGcTimeHigh above 10% (jvm.yml).",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.1)),
                w=8,
            ),
            timeseries(
                "GC pauses/s",
                Q(
                    f"sum by (instance, gc, cause) (rate(jvm_gc_pause_seconds_count{{{sel}}}[{RATE}]))",
                    "{{instance}} {{gc}} ({{cause}})",
                ),
                description="Collections per second by collector and cause.",
                w=8,
            ),
            timeseries(
                "Longest GC pause",
                Q(f"max by (instance) (jvm_gc_pause_seconds_max{{{sel}}})", "{{instance}}"),
                description="Micrometer's decaying max over its last ~2 minutes.",
                unit="s",
                w=8,
            ),
            row("Threads and CPU"),
            timeseries(
                "Threads",
                Q(f"jvm_threads_live_threads{{{sel}}}", "live {{instance}}"),
                Q(f"jvm_threads_daemon_threads{{{sel}}}", "daemon {{instance}}"),
                description="Live and daemon threads (container pids limit: 256).",
                w=8,
            ),
            timeseries(
                "Threads by state",
                Q(f"sum by (instance, state) (jvm_threads_states_threads{{{sel}}})", "{{instance}} {{state}}"),
                description="blocked or many waiting threads: lock contention or a stuck dependency.",
                w=8,
            ),
            timeseries(
                "CPU",
                Q(f"process_cpu_usage{{{sel}}}", "process {{instance}}"),
                Q(f"system_cpu_usage{{{sel}}}", "system {{instance}}"),
                description="Share of all CPUs used by the JVM and by the whole system, as the JVM sees them.",
                unit="percentunit",
                max_value=1,
                w=8,
            ),
            row("HikariCP (pool core-db to PostgreSQL)"),
            timeseries(
                "Connections",
                Q(f"hikaricp_connections_active{{{pool}}}", "active {{instance}}"),
                Q(f"hikaricp_connections_idle{{{pool}}}", "idle {{instance}}"),
                Q(f"hikaricp_connections_pending{{{pool}}}", "pending {{instance}}"),
                Q(f"hikaricp_connections_max{{{pool}}}", "max {{instance}}"),
                description="pending > 0 means threads wait for a connection (pool of 5, 2 s connection timeout).",
                w=12,
            ),
            timeseries(
                "Connection acquire time",
                Q(
                    f"rate(hikaricp_connections_acquire_seconds_sum{{{pool}}}[{RATE}])"
                    f" / rate(hikaricp_connections_acquire_seconds_count{{{pool}}}[{RATE}])",
                    "mean {{instance}}",
                ),
                Q(f"hikaricp_connections_acquire_seconds_max{{{pool}}}", "max {{instance}}"),
                description="Time to get a connection from the pool.",
                unit="s",
                w=6,
            ),
            timeseries(
                "Connection timeouts",
                Q(f"increase(hikaricp_connections_timeout_total{{{pool}}}[{RATE}])", "{{instance}}"),
                description="Requests that gave up waiting for a connection (2 s): the database is down or saturated.",
                thresholds=ZERO_IS_GOOD,
                w=6,
            ),
            row("Process"),
            stat(
                "Uptime",
                Q(f"process_uptime_seconds{{{sel}}}", "{{instance}}"),
                description="Since the JVM started: a small value after a drill means the replica restarted.",
                unit="s",
                w=8,
            ),
            timeseries(
                "Log events by level",
                Q(f"sum by (instance, level) (rate(logback_events_total{{{sel}}}[{RATE}]))", "{{instance}} {{level}}"),
                description="Logback events per second; error and warn spikes point at the logs (Loki).",
                w=16,
                h=4,
            ),
        ],
        [query_variable("instance", "Replica", 'label_values(jvm_threads_live_threads{job="core-server"}, instance)')],
    )


def worker_and_external_api() -> Dashboard:
    return Dashboard(
        "worker-ext-api",
        "Worker and external API",
        "The job path: core-server's outbox and dispatch, worker-server's queue and jobs, "
        "its calls to ext-api through toxiproxy (circuit breaker), and the result callbacks.",
        ["worker-server", "ext-api", "jobs"],
        [
            row("core-server: outbox and dispatch"),
            timeseries(
                "Jobs by status",
                Q("max by (status) (core_jobs)", "{{status}}"),
                description="core_jobs from the database (both replicas report the same numbers).",
                w=8,
            ),
            timeseries(
                "Outbox",
                Q("max(core_outbox_size)", "waiting"),
                Q("max(core_outbox_lag_seconds)", "oldest (s)"),
                description="Jobs waiting for a successful dispatch, and the age of the oldest one in seconds "
                "(JobOutboxLagHigh above 30 s).",
                w=8,
            ),
            timeseries(
                "Jobs accepted and finished/s (core)",
                Q(f"sum by (type) (rate(core_jobs_accepted_total[{RATE}]))", "accepted {{type}}"),
                Q(
                    f"sum by (status, source) (rate(core_jobs_finished_total[{RATE}]))",
                    "finished {{status}} ({{source}})",
                ),
                description="core_jobs_accepted_total and core_jobs_finished_total (source: worker result or dispatch "
                "giving up).",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "Job failure ratio (core)",
                Q(
                    f'(sum by (service) (rate(core_jobs_finished_total{{status="FAILED"}}[{RATE}]))'
                    f" or sum by (service) (rate(core_jobs_finished_total[{RATE}])) * 0)"
                    f" / sum by (service) (rate(core_jobs_finished_total[{RATE}]))",
                    "FAILED share",
                ),
                description="As JobFailureRatioHigh computes it (jobs.yml, 10%), zero-filled until a first job fails "
                "(the FAILED series is created then); no value while no job finishes.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.1)),
                max_value=1,
                w=8,
            ),
            timeseries(
                "Dispatch attempts/s by outcome",
                Q(f"sum by (outcome) (rate(core_dispatch_attempts_total[{RATE}]))", "{{outcome}}"),
                description="core-server's calls to worker-server's intake, by outcome.",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "Dispatch duration (mean) by outcome",
                Q(
                    f"sum by (outcome) (rate(core_dispatch_duration_seconds_sum[{RATE}]))"
                    f" / sum by (outcome) (rate(core_dispatch_duration_seconds_count[{RATE}]))",
                    "{{outcome}}",
                ),
                description="One call to worker-server's intake (connect 2 s, read 5 s timeouts).",
                unit="s",
                w=8,
            ),
            row("worker-server: intake and jobs"),
            timeseries(
                "Queue",
                Q("worker_queue_depth", "depth"),
                Q("worker_queue_capacity", "capacity"),
                Q("worker_jobs_in_flight", "in flight"),
                description="Depth reaching capacity means intake answers queue_full (core retries later); "
                "WorkerQueueBacklog above 80% of capacity.",
                w=8,
            ),
            timeseries(
                "Intake by outcome",
                Q(f"sum by (outcome) (rate(worker_jobs_received_total[{RATE}]))", "{{outcome}}"),
                description="accepted, duplicate, queue_full, shutting_down, invalid.",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "Jobs finished by type and status",
                Q(
                    f"sum by (type, status, error_kind) (rate(worker_jobs_finished_total[{RATE}]))",
                    "{{type}} {{status}} {{error_kind}}",
                ),
                description="Terminal states; error_kind says why a job FAILED.",
                unit="reqps",
                w=8,
            ),
            timeseries(
                "Job duration p95 by type",
                Q(
                    f"histogram_quantile(0.95, sum by (type, le) (rate(worker_job_duration_seconds_bucket[{RATE}])))",
                    "{{type}}",
                ),
                description="Intake to terminal state (before the result callback).",
                unit="s",
                w=8,
            ),
            timeseries(
                "Result callbacks by outcome",
                Q(f"sum by (outcome) (rate(worker_result_callbacks_total[{RATE}]))", "{{outcome}}"),
                description="Callbacks to core-server: delivered, unknown_job, retry, gave_up, rejected.",
                unit="reqps",
                w=8,
            ),
            stat(
                "Jobs handed back at shutdown",
                Q("sum(worker_jobs_handed_back_total)", "handed back"),
                description="Queued or running jobs left to core's re-dispatch when the worker stopped.",
                w=8,
                h=8,
            ),
            row("External API (through toxiproxy)"),
            stat(
                "Circuit breaker",
                Q("ext_api_circuit_state == 1", "{{state}}"),
                description="The breaker's current state (exactly one of closed, open, half_open is 1).",
                thresholds=_steps(("green", None)),
                text_mode="name",
                w=6,
                h=8,
            ),
            timeseries(
                "Attempts/s by outcome",
                Q(f"sum by (outcome) (rate(ext_api_requests_total[{RATE}]))", "{{outcome}}"),
                description="success, timeout, reset, upstream_5xx, circuit_open, invalid.",
                unit="reqps",
                w=6,
            ),
            timeseries(
                "Error ratio",
                Q(
                    f'sum by (service) (rate(ext_api_requests_total{{outcome!~"success|circuit_open"}}[{RATE}]))'
                    f' / sum by (service) (rate(ext_api_requests_total{{outcome!="circuit_open"}}[{RATE}]))',
                    "failed attempts",
                ),
                description="As ExternalApiErrorRatioHigh computes it (jobs.yml, 10%); empty without attempts.",
                unit="percentunit",
                thresholds=_steps(("green", None), ("red", 0.1)),
                max_value=1,
                w=6,
            ),
            timeseries(
                "Attempt duration p95 by outcome",
                Q(
                    "histogram_quantile(0.95, sum by (outcome, le) "
                    f"(rate(ext_api_request_duration_seconds_bucket[{RATE}])))",
                    "{{outcome}}",
                ),
                description="One ext-api attempt; network.latency and network.timeout faults show here. "
                "ExternalApiLatencyHigh: p95 of successful attempts above 0.5 s.",
                unit="s",
                thresholds=_steps(("green", None), ("red", 0.5)),
                w=6,
            ),
            timeseries(
                "Circuit state over time",
                Q("ext_api_circuit_state", "{{state}}"),
                description="1 for the current state.",
                min_value=0,
                max_value=1,
                w=12,
            ),
            timeseries(
                "toxiproxy bytes/s by proxy",
                Q(
                    f"sum by (proxy, direction) (rate(toxiproxy_proxy_received_bytes_total[{RATE}]))",
                    "{{proxy}} {{direction}}",
                ),
                description="Bytes through toxiproxy (network.* faults act here).",
                unit="Bps",
                w=12,
            ),
        ],
    )


def experiments() -> Dashboard:
    return Dashboard(
        "experiments",
        "Experiments",
        "Fault activity: admin-server's fault-control plane, the services' chaos contract, synthetic traffic.",
        ["experiments", "faults"],
        [
            row("admin-server faults"),
            stat(
                "Faults active",
                Q("sum(infralab_fault_active) or sum(infralab_fault_injections_total) * 0", "active"),
                description="Faults admin-server holds active now (zero-filled from its per-type counters).",
                thresholds=_steps(("green", None), ("orange", 1)),
                w=4,
                h=8,
            ),
            timeseries(
                "Faults active by type and target",
                Q("max by (type, target) (infralab_fault_active)", "{{type}} {{target}}"),
                description="1 while the fault is active; a series appears with the first fault of its kind.",
                min_value=0,
                max_value=1,
                w=10,
            ),
            timeseries(
                "Injections by type and result",
                Q(
                    f"sum by (type, result) (increase(infralab_fault_injections_total[{RATE}]))",
                    "{{type}} {{result}}",
                ),
                description="ok, rejected (invalid input, not a chaos target), failed (driver error).",
                w=10,
            ),
            timeseries(
                "Fault ends by type and reason",
                Q(
                    f"sum by (type, reason) (increase(infralab_fault_reverts_total[{RATE}]))",
                    "{{type}} {{reason}}",
                ),
                description="api, expired (TTL), reconciled, shutdown.",
                w=12,
            ),
            timeseries(
                "Revert failures by type",
                Q(f"sum by (type) (increase(infralab_fault_revert_failures_total[{RATE}]))", "{{type}}"),
                description="A fault admin-server could not undo: check the target by hand.",
                thresholds=ZERO_IS_GOOD,
                w=12,
            ),
            table(
                "Fault state by type and target",
                Q("infralab_fault_active"),
                description="Every fault admin-server has held since it started; Value 1 is active now.",
                hide=["Time", "__name__", "job", "lab"],
                w=24,
                h=6,
            ),
            row("Chaos contract (inside the services)"),
            timeseries(
                "Chaos faults active by kind and service",
                Q("sum by (service, kind) (chaos_fault_active)", "{{service}} {{kind}}"),
                description="Replicas with the kind active (core-server has two).",
                min_value=0,
                w=12,
            ),
            timeseries(
                "Chaos injections by kind and service",
                Q(
                    f"sum by (service, kind) (increase(chaos_injections_total[{RATE}]))",
                    "{{service}} {{kind}}",
                ),
                description="Faults accepted by POST /internal/chaos/{kind}.",
                w=12,
            ),
            row("Synthetic traffic (admin-server toward nginx)"),
            timeseries(
                "Synthetic requests/s by status",
                Q(f"sum by (code) (rate(infralab_traffic_requests_total[{RATE}]))", "{{code}}"),
                Q("infralab_traffic_rate_per_second", "configured rate"),
                description='As the traffic generator saw them ("error": no answer came back).',
                unit="reqps",
                w=12,
            ),
            timeseries(
                "Synthetic request latency p95",
                Q(
                    "histogram_quantile(0.95, sum by (le) "
                    f"(rate(infralab_traffic_request_duration_seconds_bucket[{RATE}])))",
                    "p95",
                ),
                description="What a client of the lab experiences, end to end through nginx.",
                unit="s",
                w=12,
            ),
        ],
    )


DASHBOARDS = {
    "lab-overview.json": lab_overview,
    "service-red.json": service_red,
    "nginx.json": nginx,
    "containers-host.json": containers_and_host,
    "jvm-core-server.json": jvm,
    "worker-ext-api.json": worker_and_external_api,
    "experiments.json": experiments,
}


def render() -> dict[str, str]:
    """File name -> JSON text, exactly as written to dashboards/."""
    return {
        name: json.dumps(build().model(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()
    }


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    rendered = render()
    for stale in set(p.name for p in OUT_DIR.glob("*.json")) - set(rendered):
        (OUT_DIR / stale).unlink()
        print(f"removed {stale}")
    for name, text in rendered.items():
        path = OUT_DIR / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(OUT_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
