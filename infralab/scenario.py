"""What a failure drill declares about itself, as data: the report and the checks read it.

A drill module sets `SCENARIO = Scenario(...)` (or `SCENARIOS = {"test_name": Scenario(...)}`
when one module holds several drills); the suite writes its incident report at teardown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from infralab.absence import AbsenceProof

# Timeline event names shared by drills, the checklist and the report.
FAULT = "fault injected"
RECOVERY = "recovery started"
CHECKLIST_PASSED = "post-recovery checklist passed"


class SignalKind(StrEnum):
    METRIC = "metric"
    LOG = "log"
    SENTRY = "sentry"
    SLACK = "slack"


@dataclass(frozen=True)
class Expected:
    """The signal is expected; `event` is the timeline event the drill marks when it is seen."""

    event: str


@dataclass(frozen=True)
class NotExpected:
    """The fault cannot produce this signal, why, and the absence that proves it.

    The drill proves the absence over its whole window (infralab/absence.py): a claim that
    nothing appears is checked like any expected signal, never only printed.
    """

    reason: str
    proof: AbsenceProof | tuple[AbsenceProof, ...]

    @property
    def proofs(self) -> tuple[AbsenceProof, ...]:
        return self.proof if isinstance(self.proof, tuple) else (self.proof,)


@dataclass(frozen=True)
class Graph:
    """A report graph: one panel per PromQL expression, fault window shaded."""

    title: str  # English: the plotting font has no Hangul glyphs
    exprs: tuple[str, ...]


DEFAULT_GRAPHS = (
    Graph(
        "5xx ratio per service and at the entry point",
        ("service:http_requests_5xx:ratio_rate1m", "route:nginx_http_requests_5xx:ratio_rate1m"),
    ),
)


@dataclass(frozen=True)
class Scenario:
    name: str  # kebab-case, names the report file: nginx-502-all-replicas
    hypothesis: str
    fault: str  # what is broken, in one line
    slo: Mapping[str, float]  # timeline event -> seconds from its reference event
    # Every kind must be stated: either the event proving it, or why this fault cannot produce it.
    signals: Mapping[SignalKind, Expected | NotExpected]
    graphs: tuple[Graph, ...] = DEFAULT_GRAPHS
    runbook: str = ""  # docs/failure-experiments/<name>.md#runbook
    fault_event: str = FAULT
    recovery_event: str = RECOVERY  # a fault that expires by itself may have none
    checklist_event: str = CHECKLIST_PASSED
    # Absences claimed beside the four kinds, e.g. "a warning, nothing critical" next to an
    # expected Slack warning: proved like the NotExpected signals.
    absences: tuple[NotExpected, ...] = ()

    def __post_init__(self) -> None:
        missing = [k.value for k in SignalKind if k not in self.signals]
        if missing:
            raise ValueError(f"scenario {self.name}: state every signal kind, missing {missing}")
        unproven = [
            kind.value if kind else "absences"
            for kind, claim in self.not_expected()
            if not claim.proofs or not all(isinstance(p, AbsenceProof) for p in claim.proofs)
        ]
        if unproven:
            raise ValueError(f"scenario {self.name}: NotExpected without an absence proof: {unproven}")
        no_slo = [s.event for s in self.expected().values() if s.event not in self.slo]
        if no_slo:
            raise ValueError(f"scenario {self.name}: expected signals without an SLO: {no_slo}")

    def expected(self) -> dict[SignalKind, Expected]:
        return {k: s for k, s in self.signals.items() if isinstance(s, Expected)}

    def not_expected(self) -> list[tuple[SignalKind | None, NotExpected]]:
        """Every claim of absence: the NotExpected signals, then `absences` (kind None)."""
        signals = [(k, s) for k, s in self.signals.items() if isinstance(s, NotExpected)]
        return [*signals, *((None, a) for a in self.absences)]

    def absence_proofs(self) -> list[AbsenceProof]:
        """Each distinct proof once, in declaration order (two claims may share one)."""
        proofs: list[AbsenceProof] = []
        for _, claim in self.not_expected():
            for proof in claim.proofs:
                if proof not in proofs:
                    proofs.append(proof)
        return proofs

    @property
    def anchors(self) -> tuple[str, ...]:
        """Events SLOs count from, when a drill does not name the reference itself."""
        return (self.fault_event, self.recovery_event)


def scenario_for(module: object, test_name: str) -> Scenario | None:
    """The Scenario a drill module declares for a test: SCENARIOS[test_name], else SCENARIO."""
    by_test = getattr(module, "SCENARIOS", None)
    if isinstance(by_test, Mapping) and isinstance(found := by_test.get(test_name), Scenario):
        return found
    single = getattr(module, "SCENARIO", None)
    return single if isinstance(single, Scenario) else None
