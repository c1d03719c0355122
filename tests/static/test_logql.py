"""Every LogQL the lab runs parses, and selects only streams Alloy ships.

Loki cannot run here and its own Go parser is AGPL: Grafana's Lezer grammar (the one its query
editor uses, tests/static/logql) parses the queries instead, and Alloy's own parser reads the stream
labels and projects out of monitoring/alloy/config.alloy (monitoring/alloy/check). The queries are
the dashboards' Loki targets, the Loki datasource's derived-field links, and the suite's
LogSelector.to_logql() for every shape it takes and every selector the code really builds.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infralab.dashboards import DATASOURCES_FILE, datasource_uid, load_dashboards, provisioned_datasources
from infralab.logs import STREAM_LABELS, LogSelector, shipped_projects
from infralab.paths import REPO_ROOT
from infralab.stack import TEST_PROJECT

pytestmark = pytest.mark.static

PARSER_DIR = REPO_ROOT / "tests" / "static" / "logql"
ALLOY_CHECK = REPO_ROOT / "monitoring" / "alloy" / "check"
ALLOY_CONFIG = REPO_ROOT / "monitoring" / "alloy" / "config.alloy"
INSTALL_TARGET = "make logql-parser"

SAMPLE_REQUEST_ID = "5f0c6a1e-8d2b-4c3a-9e7f-1b2c3d4e5f60"
# Grafana's variables as the parser sees them. Explicit on purpose: a variable not listed here
# fails test_every_logql_source_is_harvested instead of reaching Loki unchecked.
GRAFANA_VARIABLES = {
    "project": "infralab",
    "__auto": "1m",
    "__interval": "1m",
    "__range": "1m",
    "__rate_interval": "1m",
    # The other dashboards' variables (none of them in a Loki query yet).
    "service": "core-1",
    "container": "core-1",
    "instance": "core-1:8080",
    "route": "api",
    # Derived fields: the matched value.
    "__value.raw": SAMPLE_REQUEST_ID,
}
# $name, ${name}, ${name:format}, [[name]]; names may be dotted (${__value.raw}).
_VARIABLE = re.compile(r"\$\{([\w.]+)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([\w.]+)(?::\w+)?\]\]")
# Grafana expands environment variables ($NAME, ${NAME}) in provisioning files first; $$ is a $.
_PROVISIONING = re.compile(r"\$\$|\$\{[^}]*\}|\$\w+")

# Selector arguments the code computes at run time, by their source text, with a sample value.
# Anything else that is not a literal (or a module constant) fails the harvest.
COMPUTED_ARGUMENTS = {
    "body['request_id']": SAMPLE_REQUEST_ID,  # scenarios/test_nginx_502.py: the 502's own id
    "request_id": SAMPLE_REQUEST_ID,  # scenarios/test_database_down.py: the failed request followed
    "f'{lab.address(service)}:{port}'": "172.30.0.21:8080",  # infralab/rollout.py: a peer's address
    "address": "10.77.10.11:8080",  # infralab/deploy.py: the replica the slo gate reads
    "replica": "core-1",  # scenarios/test_deploy_core.py: each replica in turn
    "f'{replica} logs its start on the new version'": "core-1 logs its start on the new version",
    "new.version": "0123456789ab",  # scenarios/test_deploy_core.py: the version a drill ships
    "bad.version": "0123456789ab-dirty",
}
# LogSelector calls that only forward their caller's arguments (harvested at the call sites).
FORWARDING = {"infralab/drill.py": "drill.log_line(), harvested in scenarios/"}

# One of each shape to_logql() emits: every branch, and the strings that need escaping.
SELECTOR_SHAPES = [
    LogSelector("core-1"),
    LogSelector("core-1", contains='job "j1" failed'),
    LogSelector("worker-server", contains=r"C:\temp\new"),
    LogSelector("core-2", contains="작업 실패: 데이터베이스"),
    LogSelector("core-1", contains="tab\there\nnewline \x01"),
    LogSelector("nginx", regex=r'"status":\s*50[24]'),
    LogSelector("nginx", regex=r"^\{.*\"upstream\":\s*\"[^\"]+\"\}$"),
    LogSelector("core-1", fields={"job_id": "j1"}),
    LogSelector("core-1", fields={"level": "error", "service": "core-server", "project": "x"}),
    LogSelector("core-1", contains="job", regex=r"j\d+", fields={"level": "error", "job_id": "j1"}),
]


@dataclass(frozen=True)
class Query:
    origin: str  # where the query comes from, for the test id and messages
    logql: str
    suite: bool = False  # built by the suite for one lab: must name its project with =


@dataclass
class Harvest:
    queries: list[Query]
    problems: list[str]


def _substitute(expr: str, origin: str, problems: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        if name not in GRAFANA_VARIABLES:
            problems.append(f"{origin}: unknown variable ${name}; add a sample to GRAFANA_VARIABLES")
            return match.group(0)
        return GRAFANA_VARIABLES[name]

    return _VARIABLE.sub(replace, expr)


def _provisioned(value: str, origin: str, problems: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        problems.append(f"{origin}: provisioning expands {match.group(0)} from the environment; write $$ for a $")
        return match.group(0)

    return _PROVISIONING.sub(replace, value)


def _dashboard_queries(problems: list[str]) -> Iterator[Query]:
    loki = {uid for uid, kind in provisioned_datasources().items() if kind == "loki"}
    for dashboard in load_dashboards():
        name = dashboard.path.name
        for annotation in dashboard.annotations():
            if annotation.get("expr") and datasource_uid(annotation.get("datasource")) in loki:
                origin = f"{name} annotation {annotation.get('name')}"
                yield Query(origin, _substitute(str(annotation["expr"]), origin, problems))
        for panel in dashboard.panels():
            for target in panel.get("targets", []):
                uid = datasource_uid(target.get("datasource")) or datasource_uid(panel.get("datasource"))
                if target.get("expr") and uid in loki:
                    origin = f"{name} {panel.get('title')} [{target.get('refId')}]"
                    yield Query(origin, _substitute(str(target["expr"]), origin, problems))


def _derived_field_queries(problems: list[str]) -> Iterator[Query]:
    # An internal link (datasourceUid set) keeps its query in `url`: LogQL when it links to Loki.
    loki = {uid for uid, kind in provisioned_datasources().items() if kind == "loki"}
    for source in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]:
        for derived in (source.get("jsonData") or {}).get("derivedFields", []):
            if derived.get("datasourceUid") in loki:
                origin = f"datasources.yml {source['name']} derived field {derived.get('name')}"
                url = _provisioned(str(derived["url"]), origin, problems)
                yield Query(origin, _substitute(url, origin, problems))


def _module_constants(module: ast.Module) -> dict[str, Any]:
    constants = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            with contextlib.suppress(ValueError, TypeError):  # not a literal: not a constant
                constants[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return constants


def _value(node: ast.expr, constants: dict[str, Any], where: str, problems: list[str]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_value(e, constants, where, problems) for e in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {
            _value(k, constants, where, problems): _value(v, constants, where, problems)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    source = ast.unparse(node)
    if source not in COMPUTED_ARGUMENTS:
        problems.append(f"{where}: {source} is not a literal; add a sample to COMPUTED_ARGUMENTS")
    return COMPUTED_ARGUMENTS.get(source, source)


def _code_selectors(problems: list[str]) -> Iterator[tuple[str, LogSelector]]:
    """Every LogSelector(...) in infralab/ and drill.log_line(...) in scenarios/, with its arguments."""
    files = sorted(REPO_ROOT.glob("infralab/*.py")) + sorted(REPO_ROOT.glob("scenarios/*.py"))
    for path in files:
        relative = path.relative_to(REPO_ROOT).as_posix()
        module = ast.parse(path.read_text(), relative)
        constants = _module_constants(module)
        for call in (n for n in ast.walk(module) if isinstance(n, ast.Call)):
            where = f"{relative}:{call.lineno}"
            is_selector = isinstance(call.func, ast.Name) and call.func.id == "LogSelector"
            is_drill = isinstance(call.func, ast.Attribute) and call.func.attr == "log_line"
            if not (is_selector or is_drill) or relative in FORWARDING:
                continue
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                problems.append(f"{where}: *args/**kwargs hide the selector's arguments")
                continue
            args = [_value(a, constants, where, problems) for a in call.args]
            kwargs = {str(k.arg): _value(k.value, constants, where, problems) for k in call.keywords}
            if is_selector:
                yield where, LogSelector(*args, **kwargs)
                continue
            if len(args) != 3:
                problems.append(f"{where}: want log_line(event, services, contains, **fields)")
                continue
            _event, services, contains = args
            for service in (services,) if isinstance(services, str) else services:
                yield f"{where} {service}", LogSelector(service, contains=contains, fields=kwargs)


def harvest() -> Harvest:
    problems: list[str] = []
    dashboards = list(_dashboard_queries(problems))
    derived = list(_derived_field_queries(problems))
    code = list(_code_selectors(problems))
    shapes = [(f"shape {s.describe()}", s) for s in SELECTOR_SHAPES]
    suite = [
        Query(f"{origin} in {project}", selector.to_logql(project), suite=True)
        for project in ("infralab", TEST_PROJECT)
        for origin, selector in shapes + code
    ]
    # An empty source means the harvest broke (a renamed key, a moved call), not that all is well.
    found = {
        "dashboard": len(dashboards),
        "derived field": len(derived),
        "drill": sum(1 for where, _ in code if where.startswith("scenarios/")),
        "rollout": sum(1 for where, _ in code if where.startswith("infralab/rollout.py")),
    }
    problems += [f"no {source} query found" for source, n in found.items() if n == 0]
    return Harvest(dashboards + derived + suite, problems)


HARVEST = harvest()
# Must come back with errors: proof that the parser catches what Loki would reject.
BROKEN = [
    '{project="infralab" |= "x"',  # unclosed selector
    'sum(count_over_time({project="infralab"}[1m])',  # unclosed call
    r'{project="infralab"} |~ "\s"',  # Go string escape Loki's strconv.Unquote rejects
]


def _run(command: list[str], *, cwd: Path, stdin: str = "", timeout: float) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed (README, 준비물)")
    result = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def alloy() -> dict[str, list[str]]:
    """What Alloy's own parser reads from config.alloy: stream_labels, structured_metadata, projects."""
    # First run may compile the module (downloads are make test-alloy's): minutes, not seconds.
    out = _run(["go", "-C", str(ALLOY_CHECK), "run", ".", "-config", str(ALLOY_CONFIG)], cwd=REPO_ROOT, timeout=600)
    summary: dict[str, list[str]] = json.loads(out)
    return summary


@pytest.fixture(scope="session")
def parsed() -> dict[str, dict[str, Any]]:
    """Every harvested and broken query, parsed in one node run: query -> errors, labels, selectors."""
    if not (PARSER_DIR / "node_modules" / "@grafana" / "lezer-logql").is_dir():
        pytest.fail(f"the LogQL parser is not installed in {PARSER_DIR}: run `{INSTALL_TARGET}` (make test does)")
    queries = sorted({q.logql for q in HARVEST.queries} | set(BROKEN))
    out = _run(["node", "parse.mjs"], cwd=PARSER_DIR, stdin=json.dumps(queries), timeout=120)
    return {result["query"]: result for result in json.loads(out)}


def test_every_logql_source_is_harvested() -> None:
    assert HARVEST.problems == []


def test_suite_knows_the_stream_labels_alloy_ships(alloy: dict[str, list[str]]) -> None:
    assert set(STREAM_LABELS) == set(alloy["stream_labels"])


def test_suite_knows_the_projects_alloy_ships(alloy: dict[str, list[str]]) -> None:
    assert shipped_projects() == set(alloy["projects"])


@pytest.mark.parametrize("query", HARVEST.queries, ids=lambda q: q.origin)
def test_query_parses(query: Query, parsed: dict[str, dict[str, Any]]) -> None:
    assert parsed[query.logql]["errors"] == [], query.logql


@pytest.mark.parametrize("query", HARVEST.queries, ids=lambda q: q.origin)
def test_query_selects_shipped_streams_of_one_project(
    query: Query, parsed: dict[str, dict[str, Any]], alloy: dict[str, list[str]]
) -> None:
    result = parsed[query.logql]
    # A label Alloy does not attach selects nothing: the query would be silently empty.
    assert set(result["labels"]) <= set(alloy["stream_labels"]), query.logql
    # Both labs ship to one Loki under the same service names.
    project = [(op, value) for name, op, value in result["selectors"] if name == "project"]
    assert project, f"no project matcher: {query.logql}"
    assert {value for op, value in project if op == "="} <= set(alloy["projects"]), query.logql
    if query.suite:
        assert all(op == "=" for op, _ in project), query.logql


@pytest.mark.parametrize("query", BROKEN)
def test_parser_reports_broken_queries(query: str, parsed: dict[str, dict[str, Any]]) -> None:
    assert parsed[query]["errors"], f"the parser accepted {query!r}"
