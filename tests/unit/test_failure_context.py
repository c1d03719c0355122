"""A failed lab test carries the lab's state at the time: not-ready containers, nginx's error_log."""

from __future__ import annotations

import textwrap

import pytest

from infralab.failure_context import nginx_error_lines

pytestmark = pytest.mark.unit
pytest_plugins = ["pytester"]

NGINX_LOG = """\
{"ts":"2026-11-26T15:00:00+00:00","service":"nginx","status":200,"upstream_addr":"10.77.10.11:8080"}
2026/11/26 15:00:00 [error] 22#22: *5 upstream prematurely closed connection while reading response header
  {"indented":"json is still the access log"}
2026/11/26 15:00:06 [error] 23#23: *258 no live upstreams while connecting to upstream

"""


def test_only_error_log_lines_are_kept() -> None:
    assert nginx_error_lines(NGINX_LOG) == [
        "2026/11/26 15:00:00 [error] 22#22: *5 upstream prematurely closed connection while reading response header",
        "2026/11/26 15:00:06 [error] 23#23: *258 no live upstreams while connecting to upstream",
    ]


def test_the_last_lines_are_kept() -> None:
    log = "\n".join(f"2026/11/26 15:00:{i:02} [error] line {i}" for i in range(50))
    assert nginx_error_lines(log, limit=3) == [f"2026/11/26 15:00:{i} [error] line {i}" for i in (47, 48, 49)]


# The hook runs in a pytest of its own: a lab whose state and logs are given, a test that fails.
INNER_CONFTEST = textwrap.dedent(
    f"""
    import pytest
    from infralab.lab import Lab
    from infralab.stack import ServiceState

    pytest_plugins = ["infralab.pytest_plugin"]

    class GivenLab(Lab):
        def __init__(self):
            pass

        def states(self):
            return {{"core-1": ServiceState("core-1", "running", "healthy"),
                     "core-2": ServiceState("core-2", "running", "starting")}}

        def logs(self, service, *, since=None):
            assert service == "nginx" and since
            return {NGINX_LOG!r}

    @pytest.fixture
    def lab():
        return GivenLab()
    """
)


def test_a_failed_lab_test_reports_the_lab_state(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(
        test_inner="def test_fails(lab):\n    assert False, 'the drill failed'\n\ndef test_passes(lab):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--alluredir", "allure")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- lab at failure -*",
            "containers not ready:",
            "  core-2: running/starting",
            "nginx error_log since *",
            "*no live upstreams while connecting to upstream",
        ]
    )
    assert "core-1: running" not in result.stdout.str()
    attached = [p.read_text() for p in (pytester.path / "allure").glob("*-attachment*")]
    assert any("no live upstreams" in text for text in attached), "no Allure attachment with the lab state"
