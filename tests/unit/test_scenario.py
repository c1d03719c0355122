"""The Scenario a drill declares: every signal kind stated, expected signals have SLOs, and
every NotExpected signal an absence the drill proves."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from infralab.absence import NoAlertFired, NoSentryEvents, NoSlack
from infralab.scenario import Expected, NotExpected, Scenario, SignalKind, scenario_for

pytestmark = pytest.mark.unit

SIGNALS: dict[SignalKind, Expected | NotExpected] = {
    SignalKind.METRIC: Expected("502s in nginx's metrics"),
    SignalKind.LOG: Expected("502 in nginx's access log"),
    SignalKind.SENTRY: NotExpected(
        "a stopped JVM sends nothing; nginx has no Sentry SDK", NoSentryEvents(("core-server",))
    ),
    SignalKind.SLACK: Expected("critical alert in Slack"),
}
SLO = {"502s in nginx's metrics": 30.0, "502 in nginx's access log": 15.0, "critical alert in Slack": 45.0}


def make(**overrides: object) -> Scenario:
    fields: dict[str, object] = {
        "name": "nginx-502-all-replicas",
        "hypothesis": "h",
        "fault": "stop core-1 and core-2",
        "slo": SLO,
        "signals": SIGNALS,
    }
    return Scenario(**{**fields, **overrides})  # type: ignore[arg-type]


def test_expected_signals() -> None:
    assert set(make().expected()) == {SignalKind.METRIC, SignalKind.LOG, SignalKind.SLACK}


def test_every_signal_kind_must_be_stated() -> None:
    with pytest.raises(ValueError, match=r"missing \['sentry'\]"):
        make(signals={k: v for k, v in SIGNALS.items() if k is not SignalKind.SENTRY})


def test_expected_signals_need_an_slo() -> None:
    with pytest.raises(ValueError, match="without an SLO"):
        make(slo={"502s in nginx's metrics": 30.0})


def test_a_not_expected_signal_needs_an_absence_proof() -> None:
    with pytest.raises(TypeError, match="proof"):
        NotExpected("Sentry stays quiet")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"NotExpected without an absence proof: \['sentry'\]"):
        make(signals={**SIGNALS, SignalKind.SENTRY: NotExpected("Sentry stays quiet", ())})
    with pytest.raises(ValueError, match=r"without an absence proof: \['sentry'\]"):
        make(signals={**SIGNALS, SignalKind.SENTRY: NotExpected("Sentry stays quiet", "no events")})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"without an absence proof: \['absences'\]"):
        make(absences=(NotExpected("nothing critical", ()),))


def test_absence_proofs_each_once_in_declaration_order() -> None:
    disk = NoAlertFired(("DiskFull", "DiskFillingUp"))
    critical = NoSlack(channels=("#lab-critical",))
    scenario = make(
        signals={**SIGNALS, SignalKind.METRIC: NotExpected("no disk alert", disk)},
        absences=(NotExpected("no disk alert, nothing critical", (disk, critical)),),
    )
    assert [kind for kind, _ in scenario.not_expected()] == [SignalKind.METRIC, SignalKind.SENTRY, None]
    assert scenario.absence_proofs() == [disk, NoSentryEvents(("core-server",)), critical]


def test_module_declares_one_scenario_or_one_per_test() -> None:
    one, other = make(), make(name="nginx-502-one-replica")
    assert scenario_for(SimpleNamespace(SCENARIO=one), "test_x") is one
    per_test = SimpleNamespace(SCENARIO=one, SCENARIOS={"test_y": other})
    assert scenario_for(per_test, "test_y") is other
    assert scenario_for(per_test, "test_x") is one
    assert scenario_for(SimpleNamespace(), "test_x") is None
