"""The pure parts of `make bench`: percentiles, sizes and docker stats, alert noise, the table, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from infralab.alerts import SlackMessage
from infralab.bench import (
    Row,
    Settings,
    bounded,
    count_noise,
    latency_rows,
    percentile,
    render_table,
)

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_percentile_ignores_input_order_and_handles_one_value() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.25], 99) == 0.25


@pytest.mark.parametrize("bad", [-1.0, 100.5])
def test_percentile_rejects_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], bad)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def message(seq: int, title: str) -> SlackMessage:
    record = {
        "seq": seq,
        "received_at": "2026-11-26T09:49:41.991Z",
        "payload": {"channel": "#lab", "attachments": [{"title": title, "text": ""}]},
    }
    return SlackMessage.from_record(record)


def test_noise_counts_everything_but_watchdog() -> None:
    recorded = [
        message(1, "[FIRING:1] Watchdog (prometheus)"),
        message(2, "[FIRING:1] HighErrorRate (core-server)"),
        message(3, "[RESOLVED] HighErrorRate (core-server)"),
        message(4, "[FIRING:2] TargetDown (worker-server)"),
        message(5, "[FIRING:1] Watchdog (prometheus)"),
        message(6, "something not from the lab's template"),
    ]
    assert count_noise(recorded) == {"HighErrorRate": 2, "TargetDown": 1, "?": 1}


def test_a_healthy_window_is_silent_apart_from_the_heartbeat() -> None:
    assert count_noise([message(1, "[FIRING:1] Watchdog (prometheus)")]) == {}
    assert count_noise([]) == {}


def test_table_aligns_columns_prints_each_section_once_and_marks_goals() -> None:
    rows = [
        Row("idle memory", "core-1", "205.8 MiB", "<= 300 MiB", True),
        Row("idle memory", "worker-server", "31.0 MiB", "<= 30 MiB", False),
        Row("idle memory", "total (2 containers)", "236.8 MiB"),
        Row("job round trip", "p50 / p95", "42.9 ms / 59.5 ms"),
    ]
    lines = render_table(rows).splitlines()
    assert lines[0].split() == ["section", "metric", "measured", "goal"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].startswith("idle memory")
    assert lines[2].endswith("ok")
    assert lines[3].startswith(" ")
    assert lines[3].endswith("MISSED")
    assert not lines[4].endswith(("ok", "MISSED"))
    assert lines[5].startswith("job round trip")
    # Columns line up: every value starts at the same offset as its header.
    measured_at = lines[0].index("measured")
    assert all(line[measured_at:].split()[0][0].isdigit() for line in lines[2:])


def test_latency_rows_report_percentiles_and_errors() -> None:
    rows = latency_rows("GET /api/health sequential", [0.001, 0.002, 0.003, 0.004], errors=1)
    by_metric = {r.metric: r for r in rows}
    assert by_metric["requests"].value == "5"
    assert by_metric["p50 / p95 / p99"].value == "2.5 ms / 3.9 ms / 4.0 ms"
    assert by_metric["errors"].ok is False
    (only,) = latency_rows("x", [], errors=3)
    assert only.ok is False
    assert "3 errors" in only.value


def test_settings_defaults_and_bounds() -> None:
    default = Settings.from_environ({})
    assert (default.project, default.requests, default.jobs, default.noise_seconds) == ("infralab", 500, 50, 600)
    custom = Settings.from_environ(
        {
            "BENCH_PROJECT": "infralab-test",
            "BENCH_ENV_FILE": "/elsewhere/.env",
            "BENCH_NOISE_SECONDS": "60",
            "BENCH_REQUESTS": "999999",
            "BENCH_JOBS": "0",
        }
    )
    assert custom.project == "infralab-test"
    assert custom.env_file == Path("/elsewhere/.env")
    assert custom.noise_seconds == 60
    assert custom.requests == 5000  # bounded: the lab is shared
    assert custom.jobs == 1


def test_bounded_rejects_non_numbers() -> None:
    with pytest.raises(SystemExit, match="BENCH_JOBS must be an integer"):
        bounded("BENCH_JOBS", "many", 50, 1, 500)
