"""ci/jenkins: the plugins baked into the controller's image fit its pinned core.

jenkins-plugin-cli refuses a plugin whose required core is newer than the image's war, and by
default resolves dependencies to their latest releases, which may need a newer core. So the
top-level plugins are pinned (plugins.txt), each one's required core is recorded from its own
pom.xml (plugin-cores.tsv), and the image resolves dependencies with `--latest false`. The update
center cannot be reached here: these checks are what can be done without it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from infralab.components import by_name
from infralab.paths import COMPOSE_FILE, REPO_ROOT

pytestmark = pytest.mark.static

CI = REPO_ROOT / "ci" / "jenkins"
PLUGINS_TXT = CI / "plugins.txt"
PLUGIN_CORES = CI / "plugin-cores.tsv"
DOCKERFILE = CI / "Dockerfile"

# A plugin id (as the update center names it) and a release version: plain (1.30, 5.10.1) or
# incremental-style (1424.vc64a_edde7777), never a range, `latest`, `experimental` or a URL.
PLUGIN_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
PLUGIN_VERSION = re.compile(r"[0-9][0-9A-Za-z_.+-]*")
# A Jenkins core version: 2.NNN (weekly) or 2.NNN.M (LTS).
CORE_VERSION = re.compile(r"\d+(?:\.\d+){1,2}")
# The core of an official image tag: jenkins/jenkins:2.568.2-lts-jdk21 -> 2.568.2.
IMAGE_CORE = re.compile(r"^(?:docker\.io/)?jenkins/jenkins:(\d+(?:\.\d+){1,2})(?:-[a-z0-9.-]+)?$")
SOURCE = re.compile(r"[\w.-]+/[\w.-]+@[^\s:]+:(?:[\w.-]+/)*pom\.xml")


class PluginCore(NamedTuple):
    version: str
    required_core: str
    source: str


# --- helpers -------------------------------------------------------------------------------


def _core_key(version: str) -> tuple[int, ...]:
    """A core version as numbers, so 2.504.3 < 2.541.1 < 2.568.2 (and 2.99 < 2.100)."""
    assert CORE_VERSION.fullmatch(version), f"not a Jenkins core version: {version!r}"
    return tuple(int(part) for part in version.split("."))


def _plugins_txt(path: Path) -> dict[str, str]:
    """plugins.txt as {id: version}; every non-comment line must be exactly `id:version`."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        plugin, sep, version = line.partition(":")
        assert sep, f"{path.name}:{number}: {line!r} has no version (id:version)"
        assert PLUGIN_ID.fullmatch(plugin), f"{path.name}:{number}: bad plugin id {plugin!r}"
        assert PLUGIN_VERSION.fullmatch(version), f"{path.name}:{number}: {line!r} is not id:version"
        assert plugin not in pins, f"{path.name}:{number}: {plugin} listed twice"
        pins[plugin] = version
    assert pins, f"{path.name} lists no plugin"
    return pins


def _plugin_cores(path: Path) -> dict[str, PluginCore]:
    """plugin-cores.tsv as {id: (version, required core, source)}."""
    rows: dict[str, PluginCore] = {}
    lines = path.read_text().splitlines()
    assert lines, f"{path.name} is empty"
    assert lines[0].startswith("#"), f"{path.name} must start with a # header explaining its columns"
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 4, f"{path.name}:{number}: want id, version, required core, source: {fields}"
        plugin, version, core, source = (field.strip() for field in fields)
        assert PLUGIN_ID.fullmatch(plugin), f"{path.name}:{number}: bad plugin id {plugin!r}"
        assert PLUGIN_VERSION.fullmatch(version), f"{path.name}:{number}: bad version {version!r}"
        assert CORE_VERSION.fullmatch(core), f"{path.name}:{number}: bad required core {core!r}"
        assert SOURCE.fullmatch(source), f"{path.name}:{number}: source is not <owner>/<repo>@<tag>:pom.xml"
        assert plugin not in rows, f"{path.name}:{number}: {plugin} listed twice"
        rows[plugin] = PluginCore(version, core, source)
    assert rows, f"{path.name} records no plugin"
    return rows


def _dockerfile_image(text: str) -> str:
    images = re.findall(r"^ARG JENKINS_IMAGE=(\S+)\s*$", text, re.MULTILINE)
    assert len(images) == 1, f"want exactly one `ARG JENKINS_IMAGE=<image>` in the Dockerfile: {images}"
    return str(images[0])


def _image_core(image: str) -> str:
    match = IMAGE_CORE.match(image)
    assert match, f"{image!r} is not an official jenkins/jenkins:<core>[-variant] tag"
    return match.group(1)


def _plugin_cli_commands(text: str) -> list[list[str]]:
    """The argument lists of every jenkins-plugin-cli call in the Dockerfile's RUN instructions."""
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    commands: list[list[str]] = []
    for line in logical.splitlines():
        if not line.lstrip().startswith("RUN "):
            continue
        for part in re.split(r"&&|\|\||;", line.lstrip()[len("RUN ") :]):
            words = shlex.split(part, comments=True)
            if words and words[0] == "jenkins-plugin-cli":
                commands.append(words[1:])
    return commands


def _latest_is_false(args: list[str]) -> bool:
    """jenkins-plugin-cli's `--latest` takes an explicit value (`--latest false` or
    `--latest=false`); it defaults to true. The last one given wins."""
    value = "true"
    for index, arg in enumerate(args):
        if arg == "--latest" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--latest="):
            value = arg.split("=", 1)[1]
    return value.lower() == "false"


# --- the helpers reject what they must -------------------------------------------------------


def test_core_versions_compare_numerically() -> None:
    assert _core_key("2.99.1") < _core_key("2.100.1")
    assert _core_key("2.541.3") < _core_key("2.568.2") == _core_key("2.568.2")
    with pytest.raises(AssertionError):
        _core_key("${jenkins.baseline}.3")


@pytest.mark.parametrize("line", ["git", "git:", "git:latest", "git:5.10.1:https://example.invalid/git.hpi"])
def test_plugins_txt_parser_rejects_unpinned_lines(tmp_path: Path, line: str) -> None:
    path = tmp_path / "plugins.txt"
    path.write_text(f"# comment\n{line}\n")
    with pytest.raises(AssertionError):
        _plugins_txt(path)


def test_plugin_cli_parser_finds_latest_false() -> None:
    text = "RUN jenkins-plugin-cli --plugin-file /p.txt --latest false --verbose \\\n    && rm -rf /tmp/*\n"
    assert _plugin_cli_commands(text) == [["--plugin-file", "/p.txt", "--latest", "false", "--verbose"]]
    assert _latest_is_false(_plugin_cli_commands(text)[0])
    assert _latest_is_false(["--latest=false"])
    assert not _latest_is_false(["--plugin-file", "/p.txt"])
    assert not _latest_is_false(["--latest", "false", "--latest", "true"])
    # A comment mentioning the flag is not the flag.
    assert not _latest_is_false(_plugin_cli_commands("RUN jenkins-plugin-cli --verbose # --latest false\n")[0])


# --- the repository's files --------------------------------------------------------------------


def test_plugins_txt_and_plugin_cores_list_the_same_pins() -> None:
    pins = _plugins_txt(PLUGINS_TXT)
    recorded = {plugin: row.version for plugin, row in _plugin_cores(PLUGIN_CORES).items()}
    missing = {p: v for p, v in pins.items() if p not in recorded}
    assert not missing, f"record these in plugin-cores.tsv (required core from their pom.xml): {missing}"
    stale = {p: v for p, v in recorded.items() if p not in pins}
    assert not stale, f"plugin-cores.tsv records plugins that plugins.txt does not pin: {stale}"
    differ = {p: (pins[p], recorded[p]) for p in pins if pins[p] != recorded[p]}
    assert not differ, f"plugins.txt and plugin-cores.tsv disagree (plugins.txt, tsv): {differ}"


def test_no_plugin_needs_a_newer_core_than_the_image() -> None:
    core = _image_core(_dockerfile_image(DOCKERFILE.read_text()))
    too_new = {
        plugin: row.required_core
        for plugin, row in _plugin_cores(PLUGIN_CORES).items()
        if _core_key(row.required_core) > _core_key(core)
    }
    assert not too_new, f"these plugin versions need a newer core than the image's {core}: {too_new}"


def test_dockerfile_core_is_the_components_and_compose_official_image() -> None:
    image = _dockerfile_image(DOCKERFILE.read_text())
    _image_core(image)
    assert by_name("jenkins").official == image, "infralab/components.py: jenkins official image"
    model: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    build_arg = model["services"]["jenkins"]["build"]["args"]["JENKINS_IMAGE"]
    assert build_arg == "${JENKINS_IMAGE:-" + image + "}", "docker-compose.yml: jenkins build arg default"


def test_image_resolves_dependencies_to_their_minimum_versions() -> None:
    commands = _plugin_cli_commands(DOCKERFILE.read_text())
    assert commands, "the Dockerfile runs no jenkins-plugin-cli"
    for args in commands:
        assert "--plugin-file" in args, f"jenkins-plugin-cli without --plugin-file: {args}"
        assert _latest_is_false(args), f"jenkins-plugin-cli must run with `--latest false`: {args}"
