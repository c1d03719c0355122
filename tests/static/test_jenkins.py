"""ci/jenkins: the nightly pipeline, its controller's configuration as code and its plugins fit
together, and fit the repository (Makefile targets, pytest's report paths, Compose).

Jenkins itself cannot run here (no registry for its image): this is what can be checked without
it. Where Jenkins would only fail at run time (a step without its plugin, a job pointing at a
missing Jenkinsfile, a report path nobody writes), the check is here."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from infralab.components import by_name
from infralab.envfile import GENERATED_SECRETS
from infralab.paths import ENV_EXAMPLE, REPO_ROOT
from infralab.reports import INCIDENTS_DIR

pytestmark = pytest.mark.static

CI = REPO_ROOT / "ci" / "jenkins"
JENKINSFILE = CI / "Jenkinsfile"
RUN_TESTS = CI / "run-tests.sh"
SCRIPTS = (CI / "agent.sh", CI / "entrypoint.sh", RUN_TESTS)
JOB = "infra-lab-nightly"
AGENT_LABEL = "docker-host"

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
}
# casc.yaml's sections and the plugins that read them.
CASC_PLUGINS = {"jobs": "job-dsl", "tool.allure": "allure-jenkins-plugin"}
# Groovy keywords and names that look like calls in the Jenkinsfile but are not steps.
NOT_STEPS = {"if", "for", "while", "switch", "catch", "return"}


# --- helpers -------------------------------------------------------------------------------


def _strip_groovy(source: str) -> str:
    """The Jenkinsfile with comments removed and every string literal emptied (quotes kept).

    Raises ValueError on an unterminated string or block comment.
    """
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"unterminated block comment at offset {i}")
            i = end + 2
        elif source.startswith(("'''", '"""'), i):
            quote = source[i : i + 3]
            end = source.find(quote, i + 3)
            if end < 0:
                raise ValueError(f"unterminated {quote} string at offset {i}")
            out.append(quote + quote)
            i = end + 3
        elif source[i] in "'\"":
            quote, j = source[i], i + 1
            while j < n and source[j] != quote:
                if source[j] == "\n":
                    raise ValueError(f"unterminated {quote} string at offset {i}")
                j += 2 if source[j] == "\\" else 1
            if j >= n:
                raise ValueError(f"unterminated {quote} string at offset {i}")
            out.append(quote * 2)
            i = j + 1
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


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


def _jenkinsfile_code() -> str:
    return _strip_groovy(JENKINSFILE.read_text())


def _steps_used(code: str) -> set[str]:
    """Names used as `name(`, `name {` or `name 'arg'` outside strings (steps, directives, options)."""
    calls = re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*[({]", code)
    # Command syntax without parentheses: sh 'make test', label 'docker-host'.
    calls += re.findall(r"(?<![\w.])([A-Za-z_]\w*)[ \t]+['\"]", code)
    # `x.y(`, `env.X`, `params.X` are method calls or properties, not steps (excluded above).
    return set(calls) - NOT_STEPS


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


def _job_script(casc: dict[str, Any]) -> str:
    scripts = [str(job["script"]) for job in casc.get("jobs", []) if "script" in job]
    matching = [s for s in scripts if f"pipelineJob('{JOB}')" in s]
    assert len(matching) == 1, f"casc.yaml defines pipelineJob('{JOB}') {len(matching)} times"
    return matching[0]


# --- the job and its Jenkinsfile -----------------------------------------------------------


def test_the_job_reads_the_repositorys_jenkinsfile_through_the_mount(
    casc: dict[str, Any], jenkins_service: dict[str, Any]
) -> None:
    script = _job_script(casc)
    paths = re.findall(r"new File\('([^']+)'\)\.text", script)
    assert len(paths) == 1, "the job's pipeline script should come from one file"
    assert _in_repo(jenkins_service, paths[0]).resolve() == JENKINSFILE.resolve()
    assert JENKINSFILE.is_file()
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


def test_jenkinsfile_is_balanced() -> None:
    code = _jenkinsfile_code()  # raises on an unterminated string or comment
    assert _balance_problems(code) == []


def test_balance_check_catches_broken_groovy() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        _strip_groovy("sh 'make test\n")
    assert _balance_problems(_strip_groovy("stage('x') { steps { sh '}' }")) == ["line 1: '{' never closed"]
    assert _balance_problems(_strip_groovy("a(b]")) != []
    assert _balance_problems(_strip_groovy("x { y('}') } // }")) == []


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
    post = code[code.index("post {") :]
    assert all(step in post for step in ("junit(", "allure(", "archiveArtifacts("))
    # A failing Allure step ends the post block: what must survive it comes first.
    assert post.index("archiveArtifacts(") < post.index("allure(")
    assert post.index("junit(") < post.index("allure(")
    # `make down` stops the lab this Jenkins runs in; the suite cleans its own lab up.
    assert "make down" not in _jenkinsfile_code()


def test_every_jenkinsfile_step_is_known() -> None:
    unknown = _steps_used(_jenkinsfile_code()) - set(STEP_PLUGINS)
    assert not unknown, f"map these to their plugin in STEP_PLUGINS: {sorted(unknown)}"


def test_every_plugin_the_pipeline_and_casc_need_is_pinned(casc: dict[str, Any]) -> None:
    pins = _plugins()
    needed = {STEP_PLUGINS[s] for s in _steps_used(_jenkinsfile_code())} | {"configuration-as-code"}
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


# --- Makefile targets and report paths -----------------------------------------------------


def test_every_make_target_the_pipeline_runs_exists() -> None:
    sources = JENKINSFILE.read_text() + RUN_TESTS.read_text()
    called = set(re.findall(r"\bmake\s+(?:-C\s+\S+\s+)?([a-z][a-z-]*)", sources))
    called |= set(re.findall(r"\btarget=\"?([a-z][a-z-]*)", RUN_TESTS.read_text()))
    assert {"test", "suite", "up"} <= called
    assert called - _make_targets() == set()


def test_makefile_hands_pytest_args_to_pytest_in_make_test() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\bsuite\b", makefile, re.MULTILINE), "make test no longer runs the suite"
    suite = re.search(r"^suite:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert suite
    assert "-m pytest $(PYTEST_ARGS)" in suite.group(1)


def test_report_paths_match_pytests_settings() -> None:
    addopts = _addopts()
    assert "--alluredir=reports/allure-results" in addopts
    assert "--clean-alluredir" in addopts  # each build publishes its own results only
    jenkinsfile = JENKINSFILE.read_text()
    allure_dir = next(o.split("=", 1)[1] for o in addopts if o.startswith("--alluredir="))
    assert f"allure(results: [[path: '{allure_dir}']]" in jenkinsfile
    junit = re.search(r"junit\(testResults: '([^']+)'", jenkinsfile)
    assert junit
    assert f"junit_xml={junit.group(1)}" in RUN_TESTS.read_text()
    archived = re.search(r"archiveArtifacts\(artifacts: '([^']+)/\*\*'", jenkinsfile)
    assert archived
    assert REPO_ROOT / archived.group(1) == INCIDENTS_DIR


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
    assert f"label '{AGENT_LABEL}'" in JENKINSFILE.read_text()
    assert f"computer/{AGENT_LABEL}/jenkins-agent.jnlp" in (CI / "agent.sh").read_text()
    # The controller gets no Docker socket: it runs no builds.
    assert not [v for v in jenkins_service["volumes"] if "docker.sock" in v or v.startswith("/var/run")]
    assert jenkins_service["environment"]["JENKINS_OPTS"] == "--prefix=/jenkins"
    assert jenkins_service["environment"]["LAB_JENKINS_URL"].endswith("/jenkins/")
    assert casc["unclassified"]["location"]["url"] == "${LAB_JENKINS_URL}"


def test_allure_tool_is_a_pinned_download(casc: dict[str, Any]) -> None:
    (installation,) = casc["tool"]["allure"]["installations"]
    assert f"commandline: '{installation['name']}'" in JENKINSFILE.read_text()
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
        ("nightly", "", "test|PYTEST_ARGS=--junitxml=reports/junit.xml|"),
        ("drills", "", "suite|PYTEST_ARGS=--junitxml=reports/junit.xml -m failure|"),
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
    ],
)
def test_run_tests_sh_rejects_bad_parameters(tmp_path: Path, scope: str, scenario: str) -> None:
    rc, output, calls = _run_tests_sh(tmp_path, SCOPE=scope, SCENARIO=scenario)
    assert rc == 2, output
    assert calls == []
