"""ci/jenkins: the nightly and delivery pipelines, their controller's configuration as code and its
plugins fit together, and fit the repository (Makefile targets, pytest's report paths, Compose).

Jenkins itself cannot run here (no registry for its image): this is what can be checked without
it. Where Jenkins would only fail at run time (a step without its plugin, a job pointing at a
missing Jenkinsfile, a report path nobody writes), the check is here."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from infralab.components import by_name
from infralab.envfile import GENERATED_SECRETS
from infralab.paths import ENV_EXAMPLE, REPO_ROOT
from infralab.reports import INCIDENTS_DIR

pytestmark = pytest.mark.static

CI = REPO_ROOT / "ci" / "jenkins"
JENKINSFILE = CI / "Jenkinsfile"
DELIVERY = CI / "Jenkinsfile.delivery"
RUN_TESTS = CI / "run-tests.sh"
DELIVER = CI / "deliver.sh"
SLACK_NOTIFY = CI / "slack_notify.py"
SCRIPTS = (CI / "agent.sh", CI / "entrypoint.sh", RUN_TESTS, DELIVER)
JOB = "infra-lab-nightly"
DELIVERY_JOB = "infra-lab-delivery"
JOBS = {JOB: JENKINSFILE, DELIVERY_JOB: DELIVERY}
AGENT_LABEL = "docker-host"
SERVICES = ("core-server", "worker-server", "admin-server")

# Which plugin provides each step/directive the Jenkinsfile may use. A step missing here fails
# test_every_jenkinsfile_step_is_known: add it with its plugin (and the plugin to plugins.txt).
STEP_PLUGINS = {
    # Declarative Pipeline and the basic steps (workflow-aggregator pulls them all in).
    "pipeline": "workflow-aggregator",
    "agent": "workflow-aggregator",
    "label": "workflow-aggregator",
    "triggers": "workflow-aggregator",
    "cron": "workflow-aggregator",
    "options": "workflow-aggregator",
    "timeout": "workflow-aggregator",
    "disableConcurrentBuilds": "workflow-aggregator",
    "buildDiscarder": "workflow-aggregator",
    "logRotator": "workflow-aggregator",
    "durabilityHint": "workflow-aggregator",
    "parameters": "workflow-aggregator",
    "choice": "workflow-aggregator",
    "string": "workflow-aggregator",
    "stages": "workflow-aggregator",
    "stage": "workflow-aggregator",
    "steps": "workflow-aggregator",
    "script": "workflow-aggregator",
    "error": "workflow-aggregator",
    "sh": "workflow-aggregator",
    "post": "workflow-aggregator",
    "always": "workflow-aggregator",
    "archiveArtifacts": "workflow-aggregator",
    "git": "git",
    "junit": "junit",
    "allure": "allure-jenkins-plugin",
    "timestamps": "timestamper",
    # The delivery pipeline.
    "pollSCM": "workflow-aggregator",
    "checkout": "workflow-aggregator",
    "parallel": "workflow-aggregator",
    "unsuccessful": "workflow-aggregator",
    "cleanup": "workflow-aggregator",
    "withEnv": "workflow-aggregator",
}
# `[$class: 'X']` describables and their plugins (checkout's SCM and its extensions).
CLASS_PLUGINS = {"GitSCM": "git", "DisableRemotePoll": "git"}
# casc.yaml's sections and the plugins that read them.
CASC_PLUGINS = {"jobs": "job-dsl", "tool.allure": "allure-jenkins-plugin"}
# Groovy keywords and names that look like calls in the Jenkinsfile but are not steps.
NOT_STEPS = {"if", "for", "while", "switch", "catch", "return"}


# --- helpers -------------------------------------------------------------------------------


def _scan_groovy(source: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each comment ("comment") and string literal (kind: its quote).

    Raises ValueError on an unterminated string or block comment.
    """
    spans: list[tuple[str, int, int]] = []
    i, n = 0, len(source)
    while i < n:
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            spans.append(("comment", i, end))
            i = end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"unterminated block comment at offset {i}")
            spans.append(("comment", i, end + 2))
            i = end + 2
        elif source.startswith(("'''", '"""'), i):
            quote = source[i : i + 3]
            end = source.find(quote, i + 3)
            if end < 0:
                raise ValueError(f"unterminated {quote} string at offset {i}")
            spans.append((quote, i, end + 3))
            i = end + 3
        elif source[i] in "'\"":
            quote, j = source[i], i + 1
            while j < n and source[j] != quote:
                if source[j] == "\n":
                    raise ValueError(f"unterminated {quote} string at offset {i}")
                j += 2 if source[j] == "\\" else 1
            if j >= n:
                raise ValueError(f"unterminated {quote} string at offset {i}")
            spans.append((quote, i, j + 1))
            i = j + 1
        else:
            i += 1
    return spans


def _strip_groovy(source: str) -> str:
    """The Jenkinsfile with comments removed and every string literal emptied (quotes kept).

    Raises ValueError on an unterminated string or block comment.
    """
    out, last = [], 0
    for kind, start, end in _scan_groovy(source):
        out.append(source[last:start])
        out.append("" if kind == "comment" else kind * 2)
        last = end
    out.append(source[last:])
    return "".join(out)


def _without_comments(source: str) -> str:
    out, last = [], 0
    for kind, start, end in _scan_groovy(source):
        if kind == "comment":
            out.append(source[last:start])
            last = end
    return "".join([*out, source[last:]])


def _mask_groovy(source: str) -> str:
    """`source` at the same offsets with comments blanked and string contents replaced by `_`
    (quotes and line breaks kept): braces and names found in it are code, at their place in `source`."""
    chars = list(source)
    for kind, start, end in _scan_groovy(source):
        inner = range(start, end) if kind == "comment" else range(start + len(kind), end - len(kind))
        for k in inner:
            if chars[k] != "\n":
                chars[k] = " " if kind == "comment" else "_"
    return "".join(chars)


def _balance_problems(code: str) -> list[str]:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[tuple[str, int]] = []
    problems = []
    for line_no, line in enumerate(code.splitlines(), 1):
        for char in line:
            if char in "([{":
                stack.append((char, line_no))
            elif char in pairs:
                if not stack or stack[-1][0] != pairs[char]:
                    problems.append(f"line {line_no}: unmatched {char!r}")
                else:
                    stack.pop()
    problems += [f"line {line_no}: {char!r} never closed" for char, line_no in stack]
    return problems


def _jenkinsfile_code(path: Path = JENKINSFILE) -> str:
    return _strip_groovy(path.read_text())


def _steps_used(code: str) -> set[str]:
    """Names used as `name(`, `name {` or `name 'arg'` outside strings (steps, directives, options)."""
    calls = re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*[({]", code)
    # Command syntax without parentheses: sh 'make test', label 'docker-host'.
    calls += re.findall(r"(?<![\w.])([A-Za-z_]\w*)[ \t]+['\"]", code)
    # `x.y(`, `env.X`, `params.X` are method calls or properties, not steps (excluded above).
    return set(calls) - NOT_STEPS


def _classes_used(source: str) -> set[str]:
    return set(re.findall(r"\$class:\s*'(\w+)'", source))


class Block(NamedTuple):
    """A `keyword {` or `stage('name') {` block of a Jenkinsfile: its name and where its body is."""

    name: str
    start: int  # the keyword
    body: str  # between the braces
    body_start: int
    body_end: int

    def holds(self, other: Block) -> bool:
        return self.body_start <= other.start < self.body_end


def _blocks(source: str, keyword: str) -> list[Block]:
    """Every `keyword {` (or `keyword('name') {`) block outside comments and strings, in file order."""
    masked = _mask_groovy(source)
    found = []
    for match in re.finditer(rf"(?<![\w.]){keyword}\s*(?:\(\s*'(_*)'\s*\)\s*)?\{{", masked):
        name = source[match.start(1) : match.end(1)] if match.group(1) is not None else keyword
        depth, end = 0, None
        for k in range(match.end() - 1, len(masked)):
            depth += {"{": 1, "}": -1}.get(masked[k], 0)
            if depth == 0:
                end = k
                break
        assert end is not None, f"{keyword} block at {match.start()} is never closed"
        found.append(Block(name, match.start(), source[match.end() : end], match.end(), end))
    return found


def _stages(source: str) -> list[Block]:
    return _blocks(source, "stage")


def _stage(source: str, name: str) -> Block:
    (found,) = [b for b in _stages(source) if b.name == name]
    return found


def _post(source: str, stage: Block | None = None) -> Block:
    """The post block of the pipeline (stage None) or of that stage (not of one nested in it)."""
    stages = _stages(source)
    posts = [
        b
        for b in _blocks(source, "post")
        if (stage.holds(b) if stage else True)
        and not any(inner.holds(b) for inner in stages if inner != stage and (stage is None or stage.holds(inner)))
    ]
    assert len(posts) == 1, f"want one post block of {stage.name if stage else 'the pipeline'}, found {len(posts)}"
    return posts[0]


def _condition(source: str, post: Block, condition: str) -> Block:
    (found,) = [b for b in _blocks(source, condition) if post.holds(b)]
    return found


def _sh_commands(text: str) -> list[str]:
    """The commands of the `sh '...'` and `sh '''...'''` steps in a piece of a Jenkinsfile, in order."""
    return [m[0] or m[1] for m in re.findall(r"\bsh\s*\(?\s*(?:'{3}(.*?)'{3}|'([^'\n]*)')", text, re.DOTALL)]


def _plugins() -> dict[str, str]:
    pins = {}
    for line in (CI / "plugins.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            plugin, _, version = line.partition(":")
            assert plugin not in pins, f"plugins.txt lists {plugin} twice"
            pins[plugin] = version
    return pins


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE))


def _addopts() -> list[str]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return str(config["tool"]["pytest"]["ini_options"]["addopts"]).split()


@pytest.fixture(scope="module")
def casc() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((CI / "casc.yaml").read_text())
    return config


@pytest.fixture(scope="module")
def jenkins_service(compose_model: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = compose_model["services"]["jenkins"]
    return service


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """container path -> (source, mode)."""
    mounts = {}
    for volume in service["volumes"]:
        source, target, *mode = volume.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def _in_repo(service: dict[str, Any], container_path: str) -> Path:
    """The repository file a container path of the jenkins service shows (through a bind mount)."""
    for target, (source, _) in sorted(_mounts(service).items(), key=lambda m: -len(m[0])):
        if source.startswith("./") and (container_path == target or container_path.startswith(target + "/")):
            return REPO_ROOT / source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not on a bind mount of the repository")


def _job_script(casc: dict[str, Any], job: str = JOB) -> str:
    scripts = [str(job_["script"]) for job_ in casc.get("jobs", []) if "script" in job_]
    matching = [s for s in scripts if f"pipelineJob('{job}')" in s]
    assert len(matching) == 1, f"casc.yaml defines pipelineJob('{job}') {len(matching)} times"
    return matching[0]


# --- the jobs and their Jenkinsfiles --------------------------------------------------------


@pytest.mark.parametrize(("job", "jenkinsfile"), JOBS.items(), ids=list(JOBS))
def test_the_job_reads_the_repositorys_jenkinsfile_through_the_mount(
    casc: dict[str, Any], jenkins_service: dict[str, Any], job: str, jenkinsfile: Path
) -> None:
    script = _job_script(casc, job)
    paths = re.findall(r"new File\('([^']+)'\)\.text", script)
    assert len(paths) == 1, "the job's pipeline script should come from one file"
    assert _in_repo(jenkins_service, paths[0]).resolve() == jenkinsfile.resolve()
    assert jenkinsfile.is_file()
    assert "sandbox(true)" in script
    # JCasC itself reads the mounted casc.yaml, and nothing of ci/jenkins is writable in the container.
    casc_path = jenkins_service["environment"]["CASC_JENKINS_CONFIG"]
    assert _in_repo(jenkins_service, casc_path).resolve() == (CI / "casc.yaml").resolve()
    assert _mounts(jenkins_service)["/infra-lab/ci/jenkins"] == ("./ci/jenkins", "ro")
    # ${...} in casc.yaml is JCasC's interpolation: the job script must not contain any.
    assert "${" not in script


def test_the_jobs_cron_trigger_matches_the_jenkinsfiles(casc: dict[str, Any]) -> None:
    # JCasC creates the job before its first run, when the declarative triggers{} is not yet known.
    job_crons = re.findall(r"spec\('([^']+)'\)", _job_script(casc))
    file_crons = re.findall(r"cron\('([^']+)'\)", JENKINSFILE.read_text())
    assert file_crons == ["H 3 * * *"]
    assert job_crons == file_crons


def test_the_delivery_job_polls_main_from_the_agents_workspace(casc: dict[str, Any]) -> None:
    script, source = _job_script(casc, DELIVERY_JOB), DELIVERY.read_text()
    # The trigger, in casc.yaml (the job JCasC creates) and in the Jenkinsfile (which resets the
    # job's triggers at each run): the same polling spec, and nothing else triggers the job.
    job_polls = re.findall(r"pollSCM \{\s*scmpoll_spec\('([^']+)'\)\s*\}", script)
    file_polls = re.findall(r"pollSCM\('([^']+)'\)", source)
    assert file_polls == ["H/5 * * * *"]
    assert job_polls == file_polls
    assert "cron" not in _steps_used(_strip_groovy(source))
    assert "cron" not in script
    # What is polled: main of LAB_GIT_URL, from the workspace on the agent (the controller cannot
    # see the default file:// URL), checked out by the Checkout stage only.
    (checkout,) = [b for b in _stages(source) if "checkout(" in _mask_groovy(b.body)]
    assert checkout.name == "Checkout"
    assert "branches: [[name: 'refs/heads/main']]" in checkout.body
    assert "userRemoteConfigs: [[url: env.LAB_GIT_URL]]" in checkout.body
    assert "extensions: [[$class: 'DisableRemotePoll']]" in checkout.body
    assert "env.GIT_COMMIT = scmVars.GIT_COMMIT" in checkout.body
    assert "git" not in _steps_used(_strip_groovy(source)), "a `git` step would be polled from the controller"


def _list(literal: str) -> tuple[str, ...]:
    return tuple(re.findall(r"'([^']*)'", literal))


def test_the_jobs_parameters_match_the_jenkinsfiles(casc: dict[str, Any]) -> None:
    # JCasC re-applies the job at every controller start: parameters it lacks would be gone
    # until the next build re-declared them, and cron builds would run without them.
    code = JENKINSFILE.read_text()
    in_file = [("choice", n, _list(c)) for n, c in re.findall(r"choice\(name: '(\w+)', choices: (\[[^]]*\])", code)]
    in_file += [("string", n, (d,)) for n, d in re.findall(r"string\(name: '(\w+)', defaultValue: '([^']*)'", code)]
    script = _job_script(casc)
    in_job = [("choice", n, _list(c)) for n, c in re.findall(r"choiceParam\('(\w+)', (\[[^]]*\])", script)]
    in_job += [("string", n, (d,)) for n, d in re.findall(r"stringParam\('(\w+)', '([^']*)'", script)]
    assert {p[1] for p in in_file} == {"SCOPE", "SCENARIO", "BRANCH", "TEST_LAB_OPTIONAL"}
    assert sorted(in_job) == sorted(in_file)
    # The delivery has none: it ships main as it is.
    assert "parameters" not in _steps_used(_jenkinsfile_code(DELIVERY))
    assert "Param(" not in _job_script(casc, DELIVERY_JOB)


def test_the_nightly_runs_the_failure_drills_as_pytest_m_failure(casc: dict[str, Any], tmp_path: Path) -> None:
    # A cron build takes each parameter's default, the first choice: the drills.
    (choices,) = re.findall(r"choice\(name: 'SCOPE', choices: (\[[^]]*\])", JENKINSFILE.read_text())
    assert _list(choices)[0] == "drills"
    (job_choices,) = re.findall(r"choiceParam\('SCOPE', (\[[^]]*\])", _job_script(casc))
    assert _list(job_choices)[0] == "drills"
    # ... and run-tests.sh with that scope (or none) runs pytest with exactly `-m failure` (plus the
    # JUnit file) through make suite, which is `.venv/bin/python -m pytest $(PYTEST_ARGS)`.
    for env in ({"SCOPE": "drills"}, {}):
        rc, output, calls = _run_tests_sh(tmp_path, RESTORE_LAB="false", **env)
        assert rc == 0, output
        assert calls == ["suite|PYTEST_ARGS=--junitxml=reports/junit.xml -m failure|"]
        (tmp_path / "make-calls").unlink()
    markers = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("failure:") for m in markers)


@pytest.mark.parametrize("jenkinsfile", JOBS.values(), ids=list(JOBS))
def test_jenkinsfile_is_balanced(jenkinsfile: Path) -> None:
    code = _jenkinsfile_code(jenkinsfile)  # raises on an unterminated string or comment
    assert _balance_problems(code) == []


def test_balance_check_catches_broken_groovy() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        _strip_groovy("sh 'make test\n")
    assert _balance_problems(_strip_groovy("stage('x') { steps { sh '}' }")) == ["line 1: '{' never closed"]
    assert _balance_problems(_strip_groovy("a(b]")) != []
    assert _balance_problems(_strip_groovy("x { y('}') } // }")) == []


def test_block_parser_finds_stages_posts_and_steps() -> None:
    source = (
        "pipeline { stages { stage('a') { steps { sh 'x }' } post { always { sh 'inner' } } }\n"
        "  stage('b') { stages { stage('c') { steps { sh '''two\nlines''' } } } post { failure { sh 'rb' } } } }\n"
        "  post { always { sh 'last' } } // post { always { sh 'comment' } }\n}"
    )
    masked = _mask_groovy(source)
    assert len(masked) == len(source)
    assert masked.count("\n") == source.count("\n")
    assert [b.name for b in _stages(source)] == ["a", "b", "c"]
    assert _stage(source, "b").holds(_stage(source, "c"))
    assert _sh_commands(_post(source).body) == ["last"]
    assert _sh_commands(_condition(source, _post(source, _stage(source, "b")), "failure").body) == ["rb"]
    assert _sh_commands(_post(source, _stage(source, "a")).body) == ["inner"]
    assert _sh_commands(_stage(source, "c").body) == ["two\nlines"]


def _publishing(jenkinsfile: Path) -> Block:
    """The pipeline's post `always` block: where the reports are published."""
    source = jenkinsfile.read_text()
    return _condition(source, _post(source), "always")


@pytest.mark.parametrize("jenkinsfile", JOBS.values(), ids=list(JOBS))
def test_post_publishes_archive_then_junit_then_allure_last(jenkinsfile: Path) -> None:
    masked = _mask_groovy(_publishing(jenkinsfile).body)
    steps = [m.group(1) for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", masked)]
    # A failing Allure step (its tool download, its report) ends the block: what must survive it
    # comes first, and nothing comes after it. Slack is in `cleanup`, after every other condition.
    assert steps == ["archiveArtifacts", "junit", "allure"], steps
    source = jenkinsfile.read_text()
    post = _post(source)
    conditions = [m.group(1) for m in re.finditer(r"(?<![\w.])(\w+)\s*\{", _mask_groovy(post.body))]
    top_level = [c for c in conditions if c in {"always", "success", "failure", "unsuccessful", "aborted", "cleanup"}]
    assert top_level == ["always", "cleanup"], top_level


def test_pipeline_has_the_nightly_options_and_publishes_every_report() -> None:
    code = re.sub(r"\s+", " ", JENKINSFILE.read_text())
    for expected in (
        "agent { label 'docker-host' }",
        "timeout(time: 90, unit: 'MINUTES')",
        "disableConcurrentBuilds()",
        "buildDiscarder(logRotator(",
        "timestamps()",
        "junit(testResults: 'reports/junit.xml'",
        "allure(results: [[path: 'reports/allure-results']], commandline: 'allure'",
        "archiveArtifacts(artifacts: 'reports/incidents/**'",
    ):
        assert expected in code, f"Jenkinsfile lacks {expected}"
    # `make down` stops the lab this Jenkins runs in; the suite cleans its own lab up.
    assert "make down" not in _jenkinsfile_code()


def test_every_stage_of_the_delivery_has_a_timeout_and_its_rollback_its_own() -> None:
    source = DELIVERY.read_text()
    code = re.sub(r"\s+", " ", source)
    for expected in ("disableConcurrentBuilds()", "buildDiscarder(logRotator(", "timestamps()"):
        assert expected in code, f"Jenkinsfile.delivery lacks {expected}"
    stages, options = _stages(source), _blocks(source, "options")
    deliver = _stage(source, "Deliver")

    def own_options(block: Block | None) -> str:
        """The options directly of a stage (None: of the pipeline), not of a stage inside it."""
        inner = [s for s in stages if s != block and (block is None or block.holds(s))]
        mine = [o for o in options if (block is None or block.holds(o)) and not any(s.holds(o) for s in inner)]
        return " ".join(o.body for o in mine)

    # No pipeline-wide timeout: the post steps (the rollback) would run inside it, and once it has
    # expired they get a minute before they are killed. Nor one on Deliver, whose post is the rollback.
    assert "timeout(" not in own_options(None)
    assert "timeout(" not in own_options(deliver)
    for stage in stages:
        if stage != deliver and not any(s.holds(stage) and "timeout(" in own_options(s) for s in stages):
            assert "timeout(time:" in own_options(stage), f"stage {stage.name!r} has no timeout"
    rollback = _condition(source, _post(source, deliver), "unsuccessful")
    assert re.search(r"timeout\(time: \d+, unit: 'MINUTES'\) \{\s*sh 'ci/jenkins/deliver.sh rollback'", rollback.body)


@pytest.mark.parametrize("jenkinsfile", JOBS.values(), ids=list(JOBS))
def test_every_jenkinsfile_step_is_known(jenkinsfile: Path) -> None:
    unknown = _steps_used(_jenkinsfile_code(jenkinsfile)) - set(STEP_PLUGINS)
    assert not unknown, f"map these to their plugin in STEP_PLUGINS: {sorted(unknown)}"
    classes = _classes_used(jenkinsfile.read_text()) - set(CLASS_PLUGINS)
    assert not classes, f"map these to their plugin in CLASS_PLUGINS: {sorted(classes)}"


def test_every_plugin_the_pipelines_and_casc_need_is_pinned(casc: dict[str, Any]) -> None:
    pins = _plugins()
    needed = {"configuration-as-code"}
    for jenkinsfile in JOBS.values():
        needed |= {STEP_PLUGINS[s] for s in _steps_used(_jenkinsfile_code(jenkinsfile))}
        needed |= {CLASS_PLUGINS[c] for c in _classes_used(jenkinsfile.read_text())}
    sections = {"jobs"} & set(casc) | {f"tool.{t}" for t in casc.get("tool", {})}
    needed |= {CASC_PLUGINS[s] for s in sections}
    assert needed - set(pins) == set()
    unpinned = [p for p, version in pins.items() if not re.fullmatch(r"[0-9][\w.-]*", version)]
    assert not unpinned, f"pin these in plugins.txt (id:version): {unpinned}"


def test_image_installs_the_plugin_file_on_the_pinned_official_image(jenkins_service: dict[str, Any]) -> None:
    official = by_name("jenkins").official
    dockerfile = (CI / "Dockerfile").read_text()
    assert f"ARG JENKINS_IMAGE={official}" in dockerfile
    assert "jenkins-plugin-cli --plugin-file /usr/share/jenkins/ref/plugins.txt" in dockerfile
    assert "COPY plugins.txt /usr/share/jenkins/ref/plugins.txt" in dockerfile
    # Compose builds it from ci/jenkins on the image `make up` pulled (JENKINS_IMAGE).
    assert jenkins_service["build"]["context"] == "./ci/jenkins"
    assert jenkins_service["build"]["args"]["JENKINS_IMAGE"] == "${JENKINS_IMAGE:-" + str(official) + "}"
    assert jenkins_service["profiles"] == ["jenkins"]


# --- the delivery pipeline -----------------------------------------------------------------

DELIVERY_STAGES = [
    "Checkout",
    "Unit tests",
    *SERVICES,  # its parallel branches
    "Images",
    "Deliver",
    *(f"Deploy {service}" for service in SERVICES),
    "Smoke",
]
GIT_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}
# A `make` that records its arguments and, for deploy and rollback, writes deploy log events as
# infralab's deploy does (.lab/deploys.jsonl) and exits as make does: 0, or 2 whatever failed. What a
# call does comes from `outcomes`: "<target> s=<service>" -> (exit code, events); by default it
# succeeds with `started` and `finished`.
FAKE_MAKE = """#!/bin/bash
printf '%s\\n' "$*" >> "$FAKE_MAKE_CALLS"
target="" service=""
for arg in "$@"; do
  case "$arg" in deploy|rollback) target=$arg ;; s=*) service=${arg#s=} ;; esac
done
[ -n "$target" ] || exit 0
code=0 events="started finished"
while read -r t s c e; do
  if [ "$t $s" = "$target s=$service" ]; then code=$c; events=${e//,/ }; [ "$e" != - ] || events=""; fi
done < "$FAKE_MAKE_OUTCOMES"
mkdir -p "$LAB_HOME/.lab"
for event in $events; do
  printf '{"event": "%s", "component": "%s", "argv": "%s"}\\n' "$event" "$service" "$*" \\
    >> "$LAB_HOME/.lab/deploys.jsonl"
done
exit "$code"
"""


class Delivery:
    """ci/jenkins/deliver.sh in a scratch workspace, with LAB_HOME a git repository and a fake make."""

    def __init__(self, tmp_path: Path) -> None:
        self.workspace, self.lab_home = tmp_path / "workspace", tmp_path / "lab-home"
        self.workspace.mkdir()
        self.lab_home.mkdir()
        (self.lab_home / "Makefile").write_text("")
        for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "deliver me"]):
            subprocess.run(["git", "-C", str(self.lab_home), *args], check=True, env=GIT_ENV)
        self.commit = subprocess.run(
            ["git", "-C", str(self.lab_home), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "make").write_text(FAKE_MAKE)
        (bin_dir / "make").chmod(0o755)
        self.calls, self._outcomes = tmp_path / "make-calls", tmp_path / "make-outcomes"
        self.outcomes: dict[str, tuple[int, str]] = {}
        self.env = {
            **GIT_ENV,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "LAB_HOME": str(self.lab_home),
            "GIT_COMMIT": self.commit,
            "FAKE_MAKE_CALLS": str(self.calls),
            "FAKE_MAKE_OUTCOMES": str(self._outcomes),
        }
        assert self.run("start").returncode == 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        self._outcomes.write_text(
            "".join(f"{k} {code} {events or '-'}\n" for k, (code, events) in self.outcomes.items())
        )
        return subprocess.run(
            ["bash", str(DELIVER), *args], cwd=self.workspace, env=self.env, capture_output=True, text=True, timeout=60
        )

    def make_calls(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []

    def state(self, name: str) -> list[str]:
        path = self.workspace / "reports" / "delivery" / name
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def delivery(tmp_path: Path) -> Delivery:
    return Delivery(tmp_path)


def test_the_delivery_stages_run_in_order() -> None:
    source = DELIVERY.read_text()
    assert [b.name for b in _stages(source)] == DELIVERY_STAGES
    assert f"agent {{ label '{AGENT_LABEL}' }}" in source
    # Unit tests: one parallel branch per service, each its Makefile target.
    unit = _stage(source, "Unit tests")
    (parallel,) = [b for b in _blocks(source, "parallel") if unit.holds(b)]
    targets = {"core-server": "test-core", "worker-server": "test-worker", "admin-server": "test-admin"}
    for service, target in targets.items():
        branch = _stage(source, service)
        assert parallel.holds(branch)
        assert _sh_commands(branch.body) == [f"make {target}"]
    # The images before any deploy; then each deploy in turn and the smoke tests, all inside Deliver.
    assert _sh_commands(_stage(source, "Images").body) == ["ci/jenkins/deliver.sh images"]
    deliver = _stage(source, "Deliver")
    for service in SERVICES:
        stage = _stage(source, f"Deploy {service}")
        assert deliver.holds(stage)
        assert _sh_commands(stage.body) == [f"ci/jenkins/deliver.sh deploy {service}"]
    assert deliver.holds(_stage(source, "Smoke"))
    assert _sh_commands(_stage(source, "Smoke").body) == ["ci/jenkins/deliver.sh smoke"]
    assert _sh_commands(_stage(source, "Checkout").body) == ["ci/jenkins/deliver.sh start"]
    # Nothing outside Deliver changes the lab.
    outside = source[: deliver.start] + source[deliver.body_end :]
    assert not [c for c in _sh_commands(outside) if re.search(r"deliver\.sh (deploy|rollback)|make .*deploy", c)]


def test_deliver_sh_deploys_each_service_with_make_deploy_at_the_commit(delivery: Delivery) -> None:
    for service in SERVICES:
        result = delivery.run("deploy", service)
        assert result.returncode == 0, result.stderr
    assert delivery.make_calls() == [
        f"-C {delivery.lab_home} deploy s={service} ref={delivery.commit}" for service in SERVICES
    ]
    assert delivery.state("deployed") == list(SERVICES)
    assert "live now: core-server, worker-server, admin-server" in delivery.run("message").stdout


def test_a_later_failure_rolls_back_every_service_this_run_deployed_last_first(delivery: Delivery) -> None:
    source = DELIVERY.read_text()
    # The Deliver stage's post: on any unsuccessful end of one of its deploys or of the smoke tests.
    rollback = _condition(source, _post(source, _stage(source, "Deliver")), "unsuccessful")
    assert _sh_commands(rollback.body) == ["ci/jenkins/deliver.sh rollback"]
    # All three deployed, then (say) the smoke tests failed: each goes back, the last deployed first.
    for service in SERVICES:
        delivery.run("deploy", service)
    delivery.calls.unlink()
    assert delivery.run("rollback").returncode == 0
    assert delivery.make_calls() == [f"-C {delivery.lab_home} rollback s={s}" for s in reversed(SERVICES)]
    assert delivery.state("rolled-back") == list(reversed(SERVICES))
    assert "rolled back by this run: admin-server, worker-server, core-server" in delivery.run("message").stdout
    # Rolled back once only: a second rollback would bring this run's version back.
    delivery.calls.unlink()
    assert delivery.run("rollback").returncode == 0
    assert delivery.make_calls() == []


def test_a_service_whose_deploy_failed_is_left_to_make_deploys_own_rollback(delivery: Delivery) -> None:
    # core-server went live; worker-server's gates failed and make deploy rolled it back itself.
    assert delivery.run("deploy", "core-server").returncode == 0
    delivery.outcomes["deploy s=worker-server"] = (2, "started,gate_failed,rolled_back")
    assert delivery.run("deploy", "worker-server").returncode == 2
    delivery.calls.unlink()
    assert delivery.run("rollback").returncode == 0
    assert delivery.make_calls() == [f"-C {delivery.lab_home} rollback s=core-server"]
    message = delivery.run("message").stdout
    assert "rolled back by this run: core-server" in message
    assert "rolled back by its deploy gates: worker-server" in message


def test_a_deploy_that_replaced_nothing_is_not_rolled_back(delivery: Delivery) -> None:
    delivery.outcomes["deploy s=core-server"] = (2, "")  # a failed build, another deploy running: no event
    assert delivery.run("deploy", "core-server").returncode == 2
    delivery.calls.unlink()
    result = delivery.run("rollback")
    assert result.returncode == 0
    assert delivery.make_calls() == []
    assert "nothing to roll back" in result.stdout
    assert "not deployed (nothing replaced): core-server" in delivery.run("message").stdout


def test_a_failed_rollback_fails_the_step_but_the_others_still_go_back(delivery: Delivery) -> None:
    for service in SERVICES:
        delivery.run("deploy", service)
    delivery.outcomes["rollback s=worker-server"] = (2, "started,gate_failed,rollback_failed")
    delivery.calls.unlink()
    assert delivery.run("rollback").returncode == 1
    assert delivery.make_calls() == [f"-C {delivery.lab_home} rollback s={s}" for s in reversed(SERVICES)]
    assert delivery.state("rollback-failed") == ["worker-server"]
    assert "ROLLBACK FAILED, a person must look (make versions): worker-server" in delivery.run("message").stdout


@pytest.mark.parametrize(
    ("events", "verdict"),
    [
        ("started,gate_failed,rollback_failed", "ROLLBACK FAILED, a person must look (make versions): worker-server"),
        ("started,drained", "STATE UNKNOWN, a person must look (make versions): worker-server"),
    ],
)
def test_a_deploy_that_left_its_service_half_done_is_named_not_rolled_back(
    delivery: Delivery, events: str, verdict: str
) -> None:
    delivery.run("deploy", "core-server")
    delivery.outcomes["deploy s=worker-server"] = (2, events)
    assert delivery.run("deploy", "worker-server").returncode == 2
    delivery.calls.unlink()
    result = delivery.run("rollback")
    assert delivery.make_calls() == [f"-C {delivery.lab_home} rollback s=core-server"]
    assert "worker-server" in result.stderr
    assert verdict in delivery.run("message").stdout


def test_an_interrupted_deploy_is_named_not_rolled_back(delivery: Delivery) -> None:
    delivery.run("deploy", "core-server")
    (delivery.workspace / "reports" / "delivery" / "deploying").write_text("worker-server\n")  # killed mid-deploy
    assert "deploy interrupted, STATE UNKNOWN (make versions): worker-server" in delivery.run("message").stdout
    delivery.calls.unlink()
    result = delivery.run("rollback")
    assert delivery.make_calls() == [f"-C {delivery.lab_home} rollback s=core-server"]
    assert "deploy of worker-server was interrupted" in result.stderr
    assert "STATE UNKNOWN, a person must look (make versions): worker-server" in delivery.run("message").stdout


def test_deliver_sh_keeps_this_runs_deploy_events_only(delivery: Delivery) -> None:
    log = delivery.lab_home / ".lab" / "deploys.jsonl"
    log.parent.mkdir()
    log.write_text('{"event": "finished", "component": "core-server", "argv": "an earlier deploy"}\n')
    delivery.run("deploy", "core-server")
    delivery.run("rollback")
    kept = (delivery.workspace / "reports" / "delivery" / "deploys.jsonl").read_text().splitlines()
    deploy = f"-C {delivery.lab_home} deploy s=core-server ref={delivery.commit}"
    rollback = f"-C {delivery.lab_home} rollback s=core-server"
    assert [(json.loads(line)["argv"], json.loads(line)["event"]) for line in kept] == [
        (deploy, "started"),
        (deploy, "finished"),
        (rollback, "started"),
        (rollback, "finished"),
    ]


def test_deliver_sh_fetches_a_commit_the_labs_repository_lacks(delivery: Delivery, tmp_path: Path) -> None:
    # LAB_GIT_URL is a remote the lab's checkout has not fetched since the commit was pushed.
    remote = tmp_path / "remote"
    subprocess.run(["git", "clone", "-q", str(delivery.lab_home), str(remote)], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", str(remote), "commit", "-q", "--allow-empty", "-m", "newer"], check=True, env=GIT_ENV)
    newer = subprocess.run(
        ["git", "-C", str(remote), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    delivery.env.update(GIT_COMMIT=newer, LAB_GIT_URL=f"file://{remote}")
    result = delivery.run("deploy", "core-server")
    assert result.returncode == 0, result.stderr
    assert delivery.make_calls() == [f"-C {delivery.lab_home} deploy s=core-server ref={newer}"]
    # A commit no remote has: nothing is deployed.
    delivery.env.update(GIT_COMMIT="f" * 40)
    delivery.calls.unlink()
    result = delivery.run("deploy", "worker-server")
    assert result.returncode == 2
    assert "not even after a fetch" in result.stderr
    assert delivery.make_calls() == []


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["deploy", "nginx"], {}),  # the three services only: this pipeline does not ship nginx's config
        (["deploy", "core-server; rm -rf ~"], {}),
        (["deploy", "core-server"], {"GIT_COMMIT": "HEAD"}),
        (["deploy", "core-server"], {"LAB_HOME": ""}),
        (["everything"], {}),
    ],
)
def test_deliver_sh_refuses_bad_input(delivery: Delivery, args: list[str], env: dict[str, str]) -> None:
    delivery.env.update(env)
    assert delivery.run(*args).returncode == 2
    assert delivery.make_calls() == []


def test_the_smoke_step_attaches_to_the_running_lab_read_only(delivery: Delivery) -> None:
    pytest_calls = delivery.lab_home / "pytest-calls"
    fake = delivery.lab_home / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(f'#!/bin/sh\necho "$(pwd -P) $*" >> {pytest_calls}\n')
    fake.chmod(0o755)
    result = delivery.run("smoke")
    assert result.returncode == 0, result.stderr
    (call,) = pytest_calls.read_text().splitlines()
    cwd, *args = call.split(" ")
    # From the lab's checkout (its .env, its saved plan), attached, the results in this workspace.
    assert cwd == str(delivery.lab_home.resolve())
    assert args[:3] == ["-m", "pytest", "--lab=running"]
    assert f"--junitxml={delivery.workspace.resolve()}/reports/junit.xml" in args
    assert f"--alluredir={delivery.workspace.resolve()}/reports/allure-results" in args
    tests = [a for a in args if a.startswith("tests/")]
    assert tests
    for test in tests:
        text = (REPO_ROOT / test).read_text()
        assert "pytest.mark.smoke" in text
        # People use this lab: no fault, no restart, no stopped container.
        assert not re.search(r"\bfaults\b|\.restart\(|\.stop\(|\.kill\(|rollout\.", text), test


def test_the_images_step_checks_each_service_is_tagged_with_the_commit() -> None:
    text = DELIVER.read_text()
    # The tag make deploy looks for before it builds (infralab/deploy.py build():
    # infralab/<service>:<version>, a clean commit's version being its first 12 hex digits).
    assert "version=${commit:0:12}" in text
    assert 'docker image inspect "infralab/$service:$version"' in text
    assert re.search(r'^SERVICES="core-server worker-server admin-server"$', text, re.MULTILINE)
    assert re.search(r"^  make images \|\| exit 1$", text, re.MULTILINE)


# --- Slack ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("jenkinsfile", "channel"), [(JENKINSFILE, "#lab-nightly"), (DELIVERY, "#lab-deploys")])
def test_both_pipelines_post_their_result_to_slack_last(jenkinsfile: Path, channel: str) -> None:
    source = jenkinsfile.read_text()
    cleanup = _condition(source, _post(source), "cleanup")
    assert 'withEnv(["BUILD_RESULT=${currentBuild.currentResult}"])' in cleanup.body
    (command,) = (re.sub(r"\s+", " ", c) for c in _sh_commands(cleanup.body))
    assert f'"$LAB_HOME/.venv/bin/python" "$LAB_HOME/ci/jenkins/slack_notify.py" --channel \'{channel}\'' in command
    # A notification that failed is said, and does not change the build's result.
    assert "|| echo 'The Slack message was not sent" in command
    # One source of truth for the webhook: the lab's .env, which slack_notify.py reads. No Jenkins
    # credential, no Slack plugin step.
    assert not {"slackSend", "withCredentials", "credentials"} & _steps_used(_jenkinsfile_code(jenkinsfile))


def test_the_nightlys_slack_message_names_the_slowest_detections() -> None:
    source = JENKINSFILE.read_text()
    (command,) = _sh_commands(_condition(source, _post(source), "cleanup").body)
    produced = re.search(r"\.venv/bin/python -m infralab\.detections (\S+) > (\S+)", command)
    assert produced, command
    reports, lines = produced.groups()
    assert REPO_ROOT / reports == INCIDENTS_DIR
    assert lines in command.split("slack_notify.py", 1)[1], "the notifier posts those lines"


def test_only_the_notifier_knows_the_webhook(casc: dict[str, Any]) -> None:
    mentions = [p.name for p in sorted(CI.iterdir()) if p.is_file() and "SLACK_WEBHOOK_URL" in p.read_text()]
    assert mentions == ["slack_notify.py"]
    assert "credentials" not in casc


class Posted(NamedTuple):
    path: str
    authorization: str | None
    body: dict[str, Any]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Posted]]]:
    """A Slack webhook stand-in on a free port: its base URL and what it received."""
    received: list[Posted] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(Posted(self.path, self.headers.get("Authorization"), body))
            self.send_response(404 if self.path.endswith("/gone") else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def _notify(tmp_path: Path, env_lines: str, *args: str) -> subprocess.CompletedProcess[str]:
    lab_home = tmp_path / "lab"
    lab_home.mkdir(exist_ok=True)
    (lab_home / ".env").write_text(env_lines)
    body = tmp_path / "body.txt"
    body.write_text("`a1b2c3d4e5f6` core-server: faster\n\nlive now: core-server\n")
    env = {
        "PATH": os.environ["PATH"],
        "LAB_HOME": str(lab_home),
        "JOB_NAME": "infra-lab-delivery",
        "BUILD_NUMBER": "7",
        "BUILD_RESULT": "FAILURE",
        "BUILD_URL": "http://127.0.0.1:8080/jenkins/job/infra-lab-delivery/7/",
    }
    return subprocess.run(
        [sys.executable, str(SLACK_NOTIFY), *args, str(body)], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_notifier_posts_to_the_webhook_of_the_labs_env(tmp_path: Path, webhook: tuple[str, list[Posted]]) -> None:
    url, received = webhook
    result = _notify(tmp_path, f"SLACK_WEBHOOK_URL={url}/services/T0/B0/secret\n", "--channel", "#lab-deploys")
    assert result.returncode == 0, result.stderr
    (posted,) = received
    assert posted.path == "/services/T0/B0/secret"
    assert posted.authorization is None
    assert posted.body == {
        "channel": "#lab-deploys",
        "text": "❌ *infra-lab-delivery #7* FAILURE\n`a1b2c3d4e5f6` core-server: faster\nlive now: core-server\n"
        "http://127.0.0.1:8080/jenkins/job/infra-lab-delivery/7/",
    }
    assert "secret" not in result.stdout + result.stderr  # a real webhook's path is its secret


def test_the_notifier_reaches_the_labs_slack_stand_in_through_nginx(
    tmp_path: Path, webhook: tuple[str, list[Posted]]
) -> None:
    # The default SLACK_WEBHOOK_URL names the stand-in inside the lab's network; from the host it is
    # nginx's /slack-sink/ route, with the ops login (as the suite's SlackSink reaches it).
    url, received = webhook
    port = url.rsplit(":", 1)[1]
    env = (
        "SLACK_WEBHOOK_URL=http://slack-sink:8080/services/infra-lab\n"
        f"LAB_HTTP_PORT={port}\nLAB_OPS_USER=ops\nLAB_OPS_PASSWORD=pw\nADMIN_TOKEN=t\n"
    )
    result = _notify(tmp_path, env, "--channel", "#lab-nightly", "--about", "SCOPE=drills")
    assert result.returncode == 0, result.stderr
    (posted,) = received
    assert posted.path == "/slack-sink/services/infra-lab"
    assert posted.authorization == "Basic " + base64.b64encode(b"ops:pw").decode()
    assert posted.body["channel"] == "#lab-nightly"
    assert posted.body["text"].startswith("❌ *infra-lab-delivery #7* FAILURE — SCOPE=drills\n")


def test_a_refused_post_is_exit_1_without_the_url(tmp_path: Path, webhook: tuple[str, list[Posted]]) -> None:
    url, _ = webhook
    result = _notify(tmp_path, f"SLACK_WEBHOOK_URL={url}/services/gone\n", "--channel", "#lab-deploys")
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr
    assert "/services/gone" not in result.stderr


# --- Makefile targets and report paths -----------------------------------------------------


def test_every_make_target_the_pipelines_run_exists() -> None:
    sources = "".join(p.read_text() for p in (JENKINSFILE, DELIVERY, RUN_TESTS, DELIVER))
    called = set(re.findall(r"\bmake\s+(?:-C\s+\S+\s+)?([a-z][a-z-]*)", sources))
    called |= set(re.findall(r"\btarget=\"?([a-z][a-z-]*)", RUN_TESTS.read_text()))
    assert {"test", "suite", "up", "test-core", "test-worker", "test-admin", "images", "deploy", "rollback"} <= called
    assert called - _make_targets() == set()


def test_makefile_hands_pytest_args_to_pytest_in_make_test() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\bsuite\b", makefile, re.MULTILINE), "make test no longer runs the suite"
    suite = re.search(r"^suite:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert suite
    assert "-m pytest $(PYTEST_ARGS)" in suite.group(1)


@pytest.mark.parametrize("jenkinsfile", JOBS.values(), ids=list(JOBS))
def test_report_paths_match_pytests_settings(jenkinsfile: Path) -> None:
    addopts = _addopts()
    assert "--alluredir=reports/allure-results" in addopts
    # Each build publishes its own results only: the scripts empty the directory (the test below);
    # pytest itself keeps earlier results, a person's runs on their checkout included.
    assert "--clean-alluredir" not in addopts
    text = jenkinsfile.read_text()
    allure_dir = next(o.split("=", 1)[1] for o in addopts if o.startswith("--alluredir="))
    assert f"allure(results: [[path: '{allure_dir}']]" in text
    junit = re.search(r"junit\(testResults: '([^']+)'", text)
    assert junit
    archived = re.search(r"archiveArtifacts\(artifacts: '([^']+)/\*\*'", text)
    assert archived
    if jenkinsfile == JENKINSFILE:
        assert f"junit_xml={junit.group(1)}" in RUN_TESTS.read_text()
        assert REPO_ROOT / archived.group(1) == INCIDENTS_DIR
    else:
        # The smoke tests run in LAB_HOME and write into this workspace, at the same paths.
        deliver = DELIVER.read_text()
        assert f'--junitxml="$workspace/{junit.group(1)}"' in deliver
        assert f'--alluredir="$workspace/{allure_dir}"' in deliver
        assert re.search(rf"^STATE={re.escape(archived.group(1))}$", deliver, re.MULTILINE)


@pytest.mark.parametrize("jenkinsfile", JOBS.values(), ids=list(JOBS))
def test_allure_keeps_its_history_across_builds(jenkinsfile: Path) -> None:
    source = jenkinsfile.read_text()
    (step,) = [m.group(0) for m in re.finditer(r"allure\((?:[^()]|\([^()]*\))*\)", re.sub(r"\s+", " ", source))]
    # The allure plugin (2.35) copies allure-report/history/ out of the last build's archived report
    # (allure-report.zip) into each results directory before it generates: so the same results path
    # every build (above), a report the plugin generates itself under a fixed name, generated
    # whatever the build's result, and the builds' artifacts kept (that zip is one).
    assert "results: [[path: 'reports/allure-results']]" in step
    assert "report: 'allure-report'" in step
    assert "reportBuildPolicy: 'ALWAYS'" in step
    kept = re.search(r"artifactNumToKeepStr: '(\d+)'", source)
    assert kept
    assert int(kept.group(1)) >= 2
    major, minor = (int(part) for part in _plugins()["allure-jenkins-plugin"].split(".")[:2])
    assert (major, minor) >= (2, 35)
    # Nothing else generates, moves or removes the report or its history.
    assert _without_comments(source).count("allure-report") == 1
    assert "allure generate" not in source
    assert "history" not in _jenkinsfile_code(jenkinsfile)


def test_no_build_publishes_an_earlier_builds_allure_results(tmp_path: Path) -> None:
    # The nightly: an earlier night's results are gone before make runs (pytest keeps earlier
    # results on purpose), and the directory is there for the plugin's history.
    stale = tmp_path / "nightly" / "reports" / "allure-results" / "old-result.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    rc, output, _ = _run_tests_sh(tmp_path / "nightly", RESTORE_LAB="false")
    assert rc == 0, output
    assert not stale.exists()
    assert stale.parent.is_dir()
    # The delivery: its first step forgets the previous run.
    (tmp_path / "delivery").mkdir()
    delivery = Delivery(tmp_path / "delivery")
    old = delivery.workspace / "reports" / "allure-results" / "old-result.json"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("{}")
    (delivery.workspace / "reports" / "junit.xml").write_text("<testsuites/>")
    assert delivery.run("start").returncode == 0
    assert not old.exists()
    assert old.parent.is_dir()
    assert not (delivery.workspace / "reports" / "junit.xml").exists()


# --- controller configuration ---------------------------------------------------------------


def test_no_anonymous_access_and_the_admin_password_comes_from_the_environment(
    casc: dict[str, Any], jenkins_service: dict[str, Any]
) -> None:
    jenkins = casc["jenkins"]
    realm = jenkins["securityRealm"]["local"]
    assert realm["allowsSignup"] is False
    assert [(u["id"], u["password"]) for u in realm["users"]] == [("admin", "${JENKINS_ADMIN_PASSWORD}")]
    assert jenkins["authorizationStrategy"] == {"loggedInUsersCanDoAnything": {"allowAnonymousRead": False}}
    assert "standard" in jenkins["crumbIssuer"]
    assert jenkins_service["environment"]["JENKINS_ADMIN_PASSWORD"] == "${JENKINS_ADMIN_PASSWORD:-}"
    # The entrypoint refuses to start with an empty password (JCasC would accept it).
    assert 'if [ -z "${JENKINS_ADMIN_PASSWORD:-}" ]' in (CI / "entrypoint.sh").read_text()


def test_the_admin_password_is_generated_like_the_labs_other_secrets() -> None:
    assert "JENKINS_ADMIN_PASSWORD" in GENERATED_SECRETS, "add it to infralab/envfile.py GENERATED_SECRETS"
    assert re.search(r"^JENKINS_ADMIN_PASSWORD=$", ENV_EXAMPLE.read_text(), re.MULTILINE)


def test_builds_run_only_on_the_docker_host_agent(casc: dict[str, Any], jenkins_service: dict[str, Any]) -> None:
    jenkins = casc["jenkins"]
    assert jenkins["numExecutors"] == 0
    assert jenkins["slaveAgentPort"] == -1  # no TCP agent port: WebSocket through nginx only
    (node,) = [n["permanent"] for n in jenkins["nodes"]]
    assert node["name"] == node["labelString"] == AGENT_LABEL
    assert node["numExecutors"] == 1
    assert node["launcher"] == {"inbound": {"webSocket": True}}
    for jenkinsfile in JOBS.values():
        assert f"agent {{ label '{AGENT_LABEL}' }}" in jenkinsfile.read_text(), jenkinsfile.name
    assert f"computer/{AGENT_LABEL}/jenkins-agent.jnlp" in (CI / "agent.sh").read_text()
    # The controller gets no Docker socket: it runs no builds.
    assert not [v for v in jenkins_service["volumes"] if "docker.sock" in v or v.startswith("/var/run")]
    assert jenkins_service["environment"]["JENKINS_OPTS"] == "--prefix=/jenkins"
    assert jenkins_service["environment"]["LAB_JENKINS_URL"].endswith("/jenkins/")
    assert casc["unclassified"]["location"]["url"] == "${LAB_JENKINS_URL}"


def test_allure_tool_is_a_pinned_download(casc: dict[str, Any]) -> None:
    (installation,) = casc["tool"]["allure"]["installations"]
    for jenkinsfile in JOBS.values():
        assert f"commandline: '{installation['name']}'" in jenkinsfile.read_text(), jenkinsfile.name
    (source,) = installation["properties"]
    (installer,) = source["installSource"]["installers"]
    url, subdir = installer["zip"]["url"], installer["zip"]["subdir"]
    version = re.search(r"/allure-commandline/([0-9.]+)/allure-commandline-\1\.zip$", url)
    assert version
    assert url.startswith("https://repo.maven.apache.org/maven2/io/qameta/allure/")
    assert subdir == f"allure-{version.group(1)}"


# --- the scripts ----------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_executable_and_parse(script: Path) -> None:
    assert script.stat().st_mode & stat.S_IXUSR, f"chmod +x {script.relative_to(REPO_ROOT)}"
    subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (Debian: shellcheck)")
def test_scripts_pass_shellcheck() -> None:
    result = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _run_agent_once(tmp_path: Path, *, java: str, jenkins_container: str) -> tuple[int, str, str]:
    """agent.sh --once from a scratch checkout, with java, docker and curl that record their calls."""
    checkout = tmp_path / "lab"
    (checkout / "ci" / "jenkins").mkdir(parents=True)
    shutil.copy2(CI / "agent.sh", checkout / "ci" / "jenkins" / "agent.sh")
    (checkout / ".env").write_text("LAB_PUBLIC_URL=http://127.0.0.1:8080\nJENKINS_ADMIN_PASSWORD=pw\n")
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fakes = {
        "java": f'echo "    java.specification.version = {java}" >&2',
        "docker": f'echo "docker $*" >> {calls}; echo "{jenkins_container}"',
        "curl": f'echo "curl $*" >> {calls}; exit 7',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    result = subprocess.run(
        ["bash", str(checkout / "ci" / "jenkins" / "agent.sh"), "--once"],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.returncode, result.stdout + result.stderr, calls.read_text() if calls.exists() else ""


def test_agent_refuses_a_java_older_than_the_cores_agents_need(tmp_path: Path) -> None:
    code, output, calls = _run_agent_once(tmp_path, java="17", jenkins_container="abc")
    assert code == 1
    assert "needs Java 21 or newer" in output
    assert calls == ""


def test_agent_does_not_touch_nginx_while_the_labs_jenkins_is_away(tmp_path: Path) -> None:
    # During the nightly the suite's own lab holds the port: a retry through nginx would be a 502 there.
    code, output, calls = _run_agent_once(tmp_path, java="21", jenkins_container="")
    assert code == 1
    assert "not running or not healthy" in output
    assert "health=healthy" in calls
    assert "curl" not in calls


def test_agent_fetches_its_jar_once_the_labs_jenkins_is_healthy(tmp_path: Path) -> None:
    code, output, calls = _run_agent_once(tmp_path, java="25", jenkins_container="abc")
    assert code == 1  # the fake curl fails: Jenkins "not reachable"
    assert "curl" in calls
    assert "http://127.0.0.1:8080/jenkins/jnlpJars/agent.jar" in calls
    assert "Jenkins not reachable" in output


def _run_tests_sh(tmp_path: Path, **env: str) -> tuple[int, str, list[str]]:
    """Run run-tests.sh in a scratch workspace with a `make` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "make-calls"
    fake_make = bin_dir / "make"
    fake_make.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {calls}\necho >> {calls}\n')
    fake_make.chmod(0o755)
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    (tmp_path / "scenarios" / "test_nginx_502.py").write_text("")
    result = subprocess.run(
        ["bash", str(RUN_TESTS)],
        cwd=tmp_path,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return result.returncode, result.stdout + result.stderr, recorded


@pytest.mark.parametrize(
    ("scope", "scenario", "expected"),
    [
        ("drills", "", "suite|PYTEST_ARGS=--junitxml=reports/junit.xml -m failure|"),
        ("full", "", "test|PYTEST_ARGS=--junitxml=reports/junit.xml|"),
        (
            "scenario",
            "scenarios/test_nginx_502.py::test_one",
            "suite|PYTEST_ARGS=--junitxml=reports/junit.xml scenarios/test_nginx_502.py::test_one|",
        ),
    ],
)
def test_run_tests_sh_runs_the_right_make_target(tmp_path: Path, scope: str, scenario: str, expected: str) -> None:
    lab_home = tmp_path / "lab"
    lab_home.mkdir()
    (lab_home / "Makefile").write_text("")
    rc, output, calls = _run_tests_sh(tmp_path, SCOPE=scope, SCENARIO=scenario, LAB_HOME=str(lab_home))
    assert rc == 0, output
    # The selected target, then the lab the suite stopped is started again from LAB_HOME.
    assert calls == [expected, f"-C|{lab_home}|up|"]
    assert (tmp_path / ".env").read_text() == "LAB_OPTIONAL=grafana,logs\n"


@pytest.mark.parametrize(
    ("scope", "scenario"),
    [
        ("scenario", "scenarios/test_nginx_502.py; rm -rf ~"),
        ("scenario", "scenarios/../conftest.py"),
        ("scenario", "scenarios/test_missing.py"),
        ("everything", ""),
        ("nightly", ""),  # the old name of `full`: the nightly is the drills now
    ],
)
def test_run_tests_sh_rejects_bad_parameters(tmp_path: Path, scope: str, scenario: str) -> None:
    rc, output, calls = _run_tests_sh(tmp_path, SCOPE=scope, SCENARIO=scenario)
    assert rc == 2, output
    assert calls == []
