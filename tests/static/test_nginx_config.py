"""nginx -t on the lab's own nginx image, with the configuration mounted as compose mounts it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from python_on_whales import docker

pytestmark = pytest.mark.static


def test_nginx_accepts_the_configuration(image_of: Callable[[str], str], repo: Path, tmp_path: Path) -> None:
    htpasswd = tmp_path / "ops_htpasswd"
    htpasswd.write_text("ops:{PLAIN}x\n")
    output = docker.run(
        image_of("nginx"),
        # Test, then dump the configuration it loaded, from where nginx/run.sh starts it.
        ["sh", "-c", "cp -R /etc/nginx/source /etc/nginx/live && nginx -T -c /etc/nginx/live/nginx.conf"],
        volumes=[
            (repo / "nginx", "/etc/nginx/source", "ro"),
            (htpasswd, "/run/secrets/ops_htpasswd", "ro"),
        ],
        # The fixed upstream names come from compose's extra_hosts at run time.
        add_hosts=[("core-1", "10.77.10.11"), ("core-2", "10.77.10.12"), ("admin-server", "10.77.10.31")],
        remove=True,
    )
    # A failing test exits non-zero (python-on-whales raises); the dump shows every include loaded.
    assert "upstream core_server" in output
    assert "location @bad_gateway" in output
    assert "location /prometheus/" in output
