"""A service's version comes from git: the commit, `-dirty` when its own folder changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infralab.components import COMPONENTS
from infralab.images import ImagePlan, Resolution, Source
from infralab.versions import DEV, VERSION_TAG, source_version

pytestmark = pytest.mark.unit


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    for folder in ("core-server", "worker-server"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "main.src").write_text("v1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return tmp_path


def test_a_clean_folder_is_its_commit(repo: Path) -> None:
    version = source_version(repo / "core-server", repo)
    assert version.commit == _git(repo, "rev-parse", "HEAD")
    assert version.version == version.commit[:12]
    assert VERSION_TAG.match(version.version)
    assert version.build_args == {"APP_VERSION": version.version, "APP_COMMIT": version.commit}


def test_only_a_change_in_the_services_own_folder_makes_it_dirty(repo: Path) -> None:
    (repo / "worker-server" / "main.src").write_text("v2\n")
    (repo / "worker-server" / "new.src").write_text("untracked counts too\n")
    assert source_version(repo / "worker-server", repo).version.endswith("-dirty")
    assert not source_version(repo / "core-server", repo).version.endswith("-dirty")
    assert VERSION_TAG.match(source_version(repo / "worker-server", repo).version)


def test_without_git_a_build_is_dev(tmp_path: Path) -> None:
    version = source_version(tmp_path, tmp_path)  # not a repository
    assert (version.version, version.commit) == (DEV, "unknown")
    assert not VERSION_TAG.match(DEV)  # never pruned as if it were a commit


def test_the_versions_reach_compose_as_build_arguments() -> None:
    plan = ImagePlan(
        tuple(
            Resolution(c.name, f"infralab/{c.name}:abc", Source.BUILT, "", "abcdef012345", "abcdef012345" + "0" * 28)
            if c.versioned
            else Resolution(c.name, None, Source.LEFT_OUT, "")
            for c in COMPONENTS
        )
    )
    env = plan.env()
    assert env["CORE_SERVER_VERSION"] == env["WORKER_SERVER_VERSION"] == env["ADMIN_SERVER_VERSION"] == "abcdef012345"
    assert env["ADMIN_SERVER_COMMIT"].startswith("abcdef012345")
    assert {c.name for c in COMPONENTS if c.versioned} == {"core-server", "worker-server", "admin-server"}
