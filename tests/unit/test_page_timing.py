"""The fastest a page can arrive, from the lab's rule files and pipeline intervals."""

from __future__ import annotations

from pathlib import Path

import pytest

from infralab.page_timing import page_bound, seconds

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("text", "value"), [("5s", 5.0), ("1m30s", 90.0), ("2h", 7200.0), ("250ms", 0.25)])
def test_prometheus_durations(text: str, value: float) -> None:
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["", "5", "5 s", "1x", "s5"])
def test_what_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        seconds(text)


def test_the_lab_rules_bound_their_pages() -> None:
    # up == 0 needs one failed scrape: for 10s, then Alertmanager's group_wait 5s.
    down = page_bound("CoreServerAllReplicasDown")
    assert down is not None
    assert (down.best, down.worst, down.explain()) == (15.0, 30.0, "for 10s + group_wait 5s")
    # A ratio over rate(...[1m]) recording rules: the new state needs a second sample first.
    ratio = page_bound("HighErrorRatio")
    assert ratio is not None
    assert (ratio.best, ratio.explain()) == (40.0, "2nd scrape 5s + for 30s + group_wait 5s")
    # A deploy event is posted to Alertmanager directly: no rule bounds it.
    assert page_bound("DeployRolledBack") is None


def _pipeline(tmp_path: Path, rules: str) -> tuple[Path, Path]:
    prometheus, alertmanager = tmp_path / "prometheus", tmp_path / "alertmanager.yml"
    (prometheus / "rules").mkdir(parents=True)
    (prometheus / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n  evaluation_interval: 30s\n")
    (prometheus / "rules" / "a.yml").write_text(rules)
    alertmanager.write_text("route:\n  receiver: r\n  group_wait: 30s\n")
    return prometheus, alertmanager


def test_intervals_come_from_the_files_and_range_functions_through_recording_rules(tmp_path: Path) -> None:
    prometheus, alertmanager = _pipeline(
        tmp_path,
        """groups:
  - name: g
    interval: 10s
    rules:
      - record: job:errors:rate5m
        expr: sum by (job) (rate(errors_total[5m]))
      - alert: ErrorsHigh
        expr: job:errors:rate5m > 1
        for: 2m
      - alert: Down
        expr: up == 0
""",
    )
    high = page_bound("ErrorsHigh", prometheus_dir=prometheus, alertmanager_config=alertmanager)
    assert high is not None
    # The 5m window of the recording rule it reads: the worst case fills it.
    assert (high.second_sample, high.window, high.best, high.worst) == (True, 300.0, 165.0, 165 + 15 + 2 * 10 + 300)
    down = page_bound("Down", prometheus_dir=prometheus, alertmanager_config=alertmanager)
    assert down is not None
    assert (down.second_sample, down.for_seconds, down.best) == (False, 0.0, 30.0)
    assert page_bound("job:errors:rate5m", prometheus_dir=prometheus, alertmanager_config=alertmanager) is None
