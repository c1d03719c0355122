"""Timeline helpers behind the incident report: SLO references, MTTD, MTTR, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from infralab.scenario import CHECKLIST_PASSED, FAULT, RECOVERY
from infralab.timeline import Event, Timeline

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ANCHORS = (FAULT, RECOVERY)


def synthetic(*events: tuple[str, float, float | None, str | None]) -> Timeline:
    """A timeline from (name, offset, slo, since), without waiting for real time to pass."""
    return Timeline(
        "synthetic", [Event(name, T0 + timedelta(seconds=at), at, slo, since) for name, at, slo, since in events]
    )


TL = synthetic(
    (FAULT, 0.0, None, None),
    ("502 at the entry point", 3.0, 15, None),
    ("critical alert in Slack", 50.0, 45, None),  # late: SLO missed
    (RECOVERY, 60.0, None, None),
    ("resolved notification in Slack", 100.0, 60, None),  # counts from the recovery, not the fault
    ("checklist: alerts-resolved", 150.0, 180, RECOVERY),
    (CHECKLIST_PASSED, 151.0, 180, RECOVERY),
)


def test_slo_counts_from_the_latest_anchor_or_the_named_event() -> None:
    met = {e.name: TL.slo_met(e, ANCHORS) for e in TL.events}
    assert met == {
        FAULT: None,
        "502 at the entry point": True,
        "critical alert in Slack": False,
        RECOVERY: None,
        "resolved notification in Slack": True,
        "checklist: alerts-resolved": True,
        CHECKLIST_PASSED: True,
    }
    assert TL.reference_of(TL.get("resolved notification in Slack"), ANCHORS) == TL.get(RECOVERY)


def test_mttd_is_fault_to_first_expected_signal() -> None:
    assert TL.mttd(FAULT, ["critical alert in Slack", "502 at the entry point"]) == 3.0
    assert TL.first_of(["critical alert in Slack"], after=FAULT) == TL.get("critical alert in Slack")
    assert TL.mttd(FAULT, ["never seen"]) is None
    assert synthetic(("502 at the entry point", 0.0, None, None)).mttd(FAULT, ["502 at the entry point"]) is None


def test_mttr_and_recovery_duration() -> None:
    assert TL.duration(FAULT, CHECKLIST_PASSED) == 151.0
    assert TL.duration(RECOVERY, CHECKLIST_PASSED) == 91.0
    assert TL.duration(FAULT, "missing") is None


def test_mark_records_the_reference() -> None:
    tl = Timeline("live")
    tl.mark(FAULT)
    event = tl.mark("checked", slo=5, since=FAULT)
    assert (event.slo, event.since) == (5, FAULT)
    assert tl.slo_met(event, ()) is True
    assert tl.find("nothing") is None
    with pytest.raises(KeyError, match="no event 'nothing'"):
        tl.get("nothing")


def test_csv_has_one_row_per_event() -> None:
    rows = list(csv.DictReader(io.StringIO(TL.to_csv())))
    assert [r["event"] for r in rows] == [e.name for e in TL.events]
    assert rows[2] == {
        "utc": "2026-11-26T08:00:50+00:00",
        "offset_s": "50.000",
        "event": "critical alert in Slack",
        "slo_s": "45",
        "since": "",
    }


def test_an_event_recorded_after_the_fact_takes_its_place_by_time() -> None:
    timeline = synthetic((FAULT, 0.0, None, None), (RECOVERY, 40.0, None, None), (CHECKLIST_PASSED, 90.0, 180, None))
    resolved = timeline.record("resolved in Slack", T0 + timedelta(seconds=62.5), slo=60, since=RECOVERY)
    assert resolved.offset == 62.5
    assert [e.name for e in timeline.events] == [FAULT, RECOVERY, "resolved in Slack", CHECKLIST_PASSED]
    assert timeline.between(RECOVERY, "resolved in Slack") == 22.5
    assert timeline.slo_met(resolved, ANCHORS) is True


def test_recording_needs_the_fault_first() -> None:
    with pytest.raises(ValueError, match="first mark"):
        Timeline("empty").record("resolved in Slack", T0)
