"""log-flood: a service floods its stdout; Docker's json-file rotation must keep the disk safe."""

from __future__ import annotations

import pytest
import yaml

from infralab.absence import NoAlertFired, NoSentryEvents, NoSlack
from infralab.drill import Drill
from infralab.paths import COMPOSE_FILE
from infralab.scenario import Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

FLOOD_MIB = 60  # twice what rotation keeps: without it, all of this would stay on the host's disk
MARKER = "log-flood-drill"
DISK_ALERTS = ("DiskFull", "DiskFillingUp")  # monitoring/prometheus/rules/node.yml

SCENARIO = Scenario(
    name="log-flood",
    hypothesis=(
        f"worker-server writes {FLOOD_MIB} MiB of log lines to its stdout in seconds (a debug log left on, a "
        "retry loop that logs every attempt). Docker's json-file driver rotates the file at max-size and keeps "
        "max-file of them (docker-compose.yml's x-logging), so the service's logs on the host never exceed "
        "max-size x max-file however much is written; the oldest lines are gone, the host's disk is safe and "
        "no disk alert fires. Without rotation the same flood would land on the host's disk byte for byte."
    ),
    fault=f"{FLOOD_MIB} MiB of stdout lines from a process inside worker-server (docker exec)",
    slo={
        "flood lines in the worker's log": 30,
        "files rotated within their cap": 60,
    },
    signals={
        SignalKind.METRIC: NotExpected(
            "no exporter watches Docker's log files; the drill measures them where the engine keeps them "
            "(through mtail's read-only mount of /var/lib/docker/containers), as an operator's `du` would. "
            "What metrics do watch, the host's filesystems, stays clear of every disk alert",
            NoAlertFired(DISK_ALERTS),
        ),
        SignalKind.LOG: Expected("flood lines in the worker's log"),
        SignalKind.SENTRY: NotExpected(
            "nothing fails: logging more is not an error",
            NoSentryEvents(("core-server", "worker-server", "admin-server")),
        ),
        SignalKind.SLACK: NotExpected(
            "rotation keeps the disk bounded, so no disk alert fires at any moment of the drill, and none "
            "reaches Slack",
            (NoAlertFired(DISK_ALERTS), NoSlack(alerts=DISK_ALERTS)),
        ),
    },
    graphs=(Graph("host root filesystem free bytes", ('node_filesystem_avail_bytes{job="node", mountpoint="/"}',)),),
    runbook="docs/failure-experiments/log-flood.md#runbook",
)


def _rotation() -> tuple[int, int]:
    options = yaml.safe_load(COMPOSE_FILE.read_text())["x-logging"]["options"]
    return int(options["max-size"].removesuffix("m")) * 2**20, int(options["max-file"])


def _log_files(drill: Drill, container_id: str) -> dict[str, int]:
    """Sizes of a container's json-file logs, read through mtail's mount of the engine's directory."""
    listing = drill.lab.container("mtail").execute(
        ["sh", "-c", f"stat -c '%n %s' /var/lib/docker/containers/{container_id}/{container_id}-json.log*"]
    )
    return {name: int(size) for name, size in (line.rsplit(" ", 1) for line in str(listing).splitlines())}


def test_rotation_bounds_a_log_flood(drill: Drill) -> None:
    max_size, max_file = _rotation()
    worker = drill.lab.container("worker-server")
    # A process of the worker writes to the container's stdout (PID 1's fd 1), as the service would.
    flood = (
        f'yes \'{{"level":"info","service":"worker-server","msg":"{MARKER}","pad":"{"x" * 120}"}}\''
        f" | head -c {FLOOD_MIB * 2**20} > /proc/1/fd/1"
    )
    # admin-server has no log-flood fault: this one enters the way a misbehaving process would.
    drill.fault_by_hand()
    worker.execute(["sh", "-c", flood])
    drill.log_line("flood lines in the worker's log", "worker-server", MARKER)
    files = drill.wait_until(
        "files rotated within their cap",
        lambda: (found := _log_files(drill, worker.id)) and len(found) > 1 and found,
    )
    total = sum(files.values())
    # Docker rotates after the write that crosses max-size: allow one line over per file.
    assert len(files) <= max_file, f"{len(files)} log files, max-file is {max_file}: {files}"
    assert total <= max_file * (max_size + 4096), f"{total} bytes of logs kept, cap {max_file} x {max_size}: {files}"
    drill.recover()  # nothing to revert: the flood ended with its writer
    drill.recovered()
