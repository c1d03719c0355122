"""The stand-ins' image (the one this lab runs) as the Slack stand-in, started alone with testcontainers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from testcontainers.core.container import DockerContainer

from infralab.alerts import SlackSink
from infralab.images import ImagePlan
from infralab.waiting import wait_until

pytestmark = pytest.mark.integration

FIRING = {
    "channel": "#lab-warning",
    "attachments": [{"title": "[FIRING:1] DiskFilling (core-server)", "text": "*WARNING* disk filling"}],
}


@dataclass
class Sink:
    container: DockerContainer
    http: httpx.Client

    def stdout(self) -> list[str]:
        out, _ = self.container.get_logs()
        return out.decode().splitlines()


@pytest.fixture(scope="module")
def sink(lab_images: ImagePlan) -> Iterator[Sink]:
    image = lab_images.by_component()["stand-ins"].image
    assert image
    with DockerContainer(image).with_command("slack_sink.py").with_exposed_ports(8080) as container:
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8080)}"
        with httpx.Client(base_url=url, timeout=5) as client:
            wait_until(lambda: client.get("/health").status_code == 200, timeout=30, what="slack-sink healthy")
            yield Sink(container, client)


def test_image_records_what_alertmanager_would_post(sink: Sink) -> None:
    reader = SlackSink(sink.http, prefix="")
    since = reader.cursor()
    assert sink.http.post("/services/infra-lab", json=FIRING).text == "ok"
    message = reader.wait_for("DiskFilling", "firing", since=since, timeout=5).value
    assert (message.channel, message.service) == ("#lab-warning", "core-server")


def test_image_logs_one_json_object_per_line_with_the_lab_fields(sink: Sink) -> None:
    sink.http.post("/services/infra-lab", json=FIRING)
    lines = wait_until(lambda: [x for x in sink.stdout() if "payload received" in x], timeout=5, what="log line")
    record = json.loads(lines.value[-1])
    assert {"ts", "level", "service", "msg"} <= set(record)
    assert (record["service"], record["level"], record["channel"]) == ("slack-sink", "info", "#lab-warning")
    assert all(json.loads(line) for line in sink.stdout())
