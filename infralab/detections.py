"""The slowest detections of a drill run, read back from its incident reports.

`python -m infralab.detections reports/incidents` prints, as a few Slack-ready lines, the drills
whose page (the Slack notification: when a person is told) came latest after the fault (MTTD), with
the SLO of that page, and the drills whose page never came (a drill that pages nobody by design is
neither). The nightly Jenkins job puts them in its Slack message.

The Markdown report (infralab/reports.py) is the only file a drill leaves per run that names its
scenario, its MTTD and which event was the page (the timeline CSV exists only as an Allure
attachment and does not say which events are signals). It is read by its tables, not by its prose:
the key-metrics row whose first cell is `MTTD`, and the SLO of the signal that row names from the
first table with an `SLO` column that lists that event (the SLO table, else the timeline).
tests/unit/test_detections.py reads reports rendered by infralab.reports, so a change of their
format fails there.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from infralab.reports import NO_PAGE

DEFAULT_DIR = Path("reports") / "incidents"
DEFAULT_TOP = 3

_TITLE = re.compile(r"^# [^:\n]+:\s*(?P<name>\S.*?)\s*$", re.MULTILINE)
_FIELD = re.compile(r"^- (?P<key>[^:\n]+):\s*(?P<value>.*?)\s*$", re.MULTILINE)
_CODE = re.compile(r"`([^`]*)`")
_SECONDS = re.compile(r"(?P<value>\d+(?:\.\d+)?)\s*s\b")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_NOTHING = {"", "—", "-"}
# The report's own words (infralab/reports.py): its result line and the key-metrics row.
_RESULT_KEY, _TEST_KEY, _RUN_KEY = "결과", "테스트", "실행 (UTC)"
_MTTD_ROW = re.compile(r"^\|\s*MTTD\s*\|([^|\n]*)\|(.*)\|[ \t]*$", re.MULTILINE)


class ReportFormatError(ValueError):
    """Not an incident report, or one whose MTTD row could not be read."""


@dataclass(frozen=True)
class Detection:
    """How quickly one drill run saw its fault."""

    drill: str  # the scenario's name, e.g. nginx-502-all-replicas
    mttd: float | None  # seconds from the fault to the page; None: it never came, or none is expected
    signal: str | None  # the timeline event of the page
    slo: float | None  # that signal's SLO in seconds, when the report gives one
    slo_met: bool | None  # whether it came within it, when the report says
    passed: bool | None  # the drill's verdict; None when the report does not say
    test: str = ""
    started: datetime | None = None
    report: Path | None = None
    pages: bool = True  # False: the drill expects no Slack notification at all (reports.NO_PAGE)


def _cells(row: str) -> list[str]:
    """A Markdown table row's cells, `\\|` inside a cell kept as `|`."""
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner)]


def _tables(text: str) -> list[list[list[str]]]:
    """Every table as its rows of cells, header first, the |---| separator left out."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            cells = _cells(line)
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _seconds(cell: str) -> float | None:
    match = _SECONDS.search(cell)
    return float(match["value"]) if match else None


def _met(cell: str) -> bool | None:
    return True if "✅" in cell else False if "❌" in cell else None


def _slo_of(tables: Sequence[list[list[str]]], event: str) -> tuple[float | None, bool | None]:
    """The SLO of `event` and whether it was met, from the first table with an SLO column listing it."""
    for header, *rows in tables:
        if "SLO" not in header:
            continue
        name_at = header.index("event") if "event" in header else 0
        slo_at = header.index("SLO")
        met_at = len(header) - 1  # 충족 / met?: the last column of both tables
        for row in rows:
            if len(row) == len(header) and row[name_at] == event:
                slo = _seconds(row[slo_at])
                if slo is not None:
                    return slo, _met(row[met_at]) if met_at != slo_at else None
    return None, None


def _started(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def parse_report(text: str, path: Path | None = None) -> Detection:
    """The detection an incident report records; ReportFormatError when it is not one."""
    title = _TITLE.search(text)
    if title is None:
        raise ReportFormatError(f"{path or 'report'}: no `# <title>: <scenario>` heading")
    # Read from the raw line: the report puts event names in this row as they are (a `|` in one
    # is not escaped here, unlike in the tables below), so the span runs to the row's last `|`.
    mttd_rows = _MTTD_ROW.findall(text)
    if len(mttd_rows) != 1:
        raise ReportFormatError(f"{path or 'report'}: want one `| MTTD | <value> | <fault> → <signal> |` row")
    value, span = (part.strip() for part in mttd_rows[0])
    names = _CODE.findall(span)  # `fault` → 첫 페이지 `signal`
    signal = names[-1] if len(names) >= 2 and names[-1] not in _NOTHING else None
    mttd = None if value in _NOTHING else _seconds(value)
    if mttd is None and value not in _NOTHING:
        raise ReportFormatError(f"{path or 'report'}: MTTD {value!r} is not a number of seconds")
    # The list under the title only: the first of each key (a later list may reuse a word).
    header = text[title.end() :].split("\n## ", 1)[0]
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(header):
        fields.setdefault(match["key"].strip(), match["value"])
    result = fields.get(_RESULT_KEY, "")
    slo, met = _slo_of(_tables(text), signal) if signal else (None, None)
    return Detection(
        drill=title["name"],
        mttd=mttd,
        signal=signal,
        slo=slo,
        slo_met=met,
        passed=_met(result),
        test=next(iter(_CODE.findall(fields.get(_TEST_KEY, ""))), ""),
        started=_started(fields.get(_RUN_KEY, "")),
        report=path,
        pages=NO_PAGE not in span,
    )


def _report_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.md")) if path.is_dir() else [path] if path.is_file() else []
    return files


def read_reports(paths: Iterable[Path]) -> tuple[list[Detection], list[str]]:
    """The detections of every report under `paths` (directories of reports, or report files), the
    newest run of each drill only; and what could not be read, one line each."""
    newest: dict[str, Detection] = {}
    problems: list[str] = []
    for file in _report_files(paths):
        try:
            found = parse_report(file.read_text(encoding="utf-8"), file)
        except ReportFormatError as exc:
            problems.append(str(exc))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: {exc}")
            continue
        kept = newest.get(found.drill)
        if kept is None or (found.started or datetime.min) >= (kept.started or datetime.min):
            newest[found.drill] = found
    return sorted(newest.values(), key=lambda d: d.drill), problems


def slowest(detections: Iterable[Detection], top: int = DEFAULT_TOP) -> list[Detection]:
    """The `top` detections with the longest MTTD, slowest first (drills that paged nobody excluded)."""
    seen = [d for d in detections if d.mttd is not None]
    return sorted(seen, key=lambda d: (-(d.mttd or 0.0), d.drill))[: max(top, 0)]


def _slo_text(d: Detection) -> str:
    if d.slo is None:
        return "no SLO on that signal"
    verdict = {True: "met", False: "MISSED", None: "not judged"}[d.slo_met]
    return f"SLO ≤ {d.slo:.0f}s, {verdict}"


def _verdict_text(d: Detection) -> str:
    return "" if d.passed is not False else " — drill failed"


def format_lines(detections: Sequence[Detection], top: int = DEFAULT_TOP, *, where: str = "") -> list[str]:
    """A few lines for Slack (its mrkdwn), readable in a console too."""
    if not detections:
        return [f"No drill report{f' in {where}' if where else ''}: no failure drill ran, or none wrote its report."]
    ranked = slowest(detections, top)
    paging = [d for d in detections if d.pages]
    missed = [d for d in paging if d.mttd is None]
    lines = [f"Slowest detections (MTTD: fault → first page), {len(ranked)} of {len(paging)} paging drills:"]
    lines += [
        f"{n}. `{d.drill}` {d.mttd or 0.0:.1f}s → `{d.signal or '?'}` ({_slo_text(d)}){_verdict_text(d)}"
        for n, d in enumerate(ranked, start=1)
    ]
    if missed:
        lines.append("Never paged (no Slack notification seen): " + ", ".join(f"`{d.drill}`" for d in missed))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infralab.detections",
        description="The slowest detections (MTTD) of a drill run, from its incident reports.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[DEFAULT_DIR],
        help=f"report directories or report files (default: {DEFAULT_DIR})",
    )
    parser.add_argument("-n", "--top", type=int, default=DEFAULT_TOP, help=f"how many (default {DEFAULT_TOP})")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    detections, problems = read_reports(args.paths)
    for line in format_lines(detections, args.top, where=", ".join(map(str, args.paths))):
        print(line)
    for problem in problems:
        print(f"not read: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
