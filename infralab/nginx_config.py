"""nginx's live configuration: changed only after `nginx -t` accepts the change.

nginx serves a copy of the repository's nginx/ folder (nginx/run.sh copies the read-only mount to
LIVE). A change (a replica taken out of rotation, a configuration deploy) is staged beside it as a
whole folder, tested with `nginx -t`, swapped in and reloaded: a refused change leaves the live
configuration and the running nginx as they were. A reload is graceful: the old worker processes
finish the requests they hold, the new ones route by the new configuration.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import docker
from python_on_whales.exceptions import DockerException

LIVE = "/etc/nginx/live"
STAGING = "/etc/nginx/staging"
PREVIOUS = "/etc/nginx/previous"
UPSTREAMS = "lab/upstreams.conf"

_UPSTREAM = re.compile(r"^\s*upstream\s+(\w+)\s*\{(.*?)^\s*\}", re.MULTILINE | re.DOTALL)
_SERVER = re.compile(r"^(?P<head>\s*server\s+(?P<host>[\w.-]+):\d+[^;\n]*?)(?P<down>\s+down)?\s*;", re.MULTILINE)


class NginxConfigRefusedError(RuntimeError):
    """`nginx -t` refused a configuration; nginx still runs the previous one."""


def set_serving(upstreams: str, host: str, *, serving: bool) -> str:
    """upstreams.conf with `host`'s server lines marked `down` (out of rotation) or not.

    Refuses to take the last serving server of a group out: nginx would answer 502 to everyone.
    """
    found = False

    def mark(match: re.Match[str]) -> str:
        nonlocal found
        if match["host"] != host:
            return match[0]
        found = True
        return match["head"] + ("" if serving else " down") + ";"

    changed = _SERVER.sub(mark, upstreams)
    if not found:
        raise ValueError(f"no upstream server {host} in {UPSTREAMS}")
    for group, body in _UPSTREAM.findall(changed):
        servers = list(_SERVER.finditer(body))
        if servers and all(s["down"] for s in servers):
            raise ValueError(f"taking {host} out would leave upstream {group} no server in rotation")
    return changed


def out_of_rotation(upstreams: str) -> list[str]:
    """Hosts marked `down`."""
    return [m["host"] for m in _SERVER.finditer(upstreams) if m["down"]]


@dataclass(frozen=True)
class NginxConfig:
    container: str  # the nginx container's name

    def _exec(self, *argv: str) -> str:
        return str(docker.container.execute(self.container, list(argv)))

    def read(self, path: str) -> str:
        """A file of the live configuration, e.g. lab/upstreams.conf."""
        return self._exec("cat", f"{LIVE}/{path}")

    def apply(self, tree: Path) -> str:
        """Make `tree` (a folder shaped like nginx/) the live configuration and reload; returns
        what `nginx -t` said. NginxConfigRefusedError, nothing changed, when it refuses."""
        self._exec("rm", "-rf", STAGING)
        docker.copy(str(tree), (self.container, STAGING))
        try:
            verdict = self._exec("sh", "-c", f"nginx -t -c {STAGING}/nginx.conf 2>&1")
        except DockerException as exc:
            self._exec("rm", "-rf", STAGING)
            said = (exc.stdout or "") + (exc.stderr or "")
            raise NginxConfigRefusedError(f"nginx -t refused the configuration:\n{said.strip()}") from exc
        self._exec(
            "sh",
            "-c",
            f"rm -rf {PREVIOUS} && mv {LIVE} {PREVIOUS} && mv {STAGING} {LIVE} && nginx -c {LIVE}/nginx.conf -s reload",
        )
        return verdict.strip()

    def edit(self, path: str, content: str) -> str:
        """The live configuration with one file replaced, through apply()."""
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "nginx"
            docker.copy((self.container, LIVE), str(tree))
            (tree / path).write_text(content)
            return self.apply(tree)

    def set_serving(self, host: str, *, serving: bool) -> None:
        """Put an upstream server into nginx's rotation or take it out (a graceful reload)."""
        self.edit(UPSTREAMS, set_serving(self.read(UPSTREAMS), host, serving=serving))
