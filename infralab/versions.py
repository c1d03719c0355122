"""The lab's own services' versions: what an image is tagged with, and which images are kept.

A version is the repository's commit (12 hex digits) plus `-dirty` when the service's folder has
uncommitted changes; the images of the last KEEP versions of each service stay, so going back to
one needs no build."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import Container, docker
from python_on_whales.exceptions import DockerException

from infralab.paths import REPO_ROOT

KEEP = 3
DEV = "dev"  # no git (an exported tree): still a version, never confused with a commit
VERSION_TAG = re.compile(r"^[0-9a-f]{12}(-dirty)?$")


@dataclass(frozen=True)
class BuildVersion:
    version: str  # the image tag and APP_VERSION
    commit: str  # the full commit, APP_COMMIT

    @property
    def build_args(self) -> dict[str, str]:
        return {"APP_VERSION": self.version, "APP_COMMIT": self.commit}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def source_version(folder: Path, repo: Path = REPO_ROOT) -> BuildVersion:
    """The version of what `folder` holds now."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--", str(folder))
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return BuildVersion(DEV, "unknown")
    return BuildVersion(commit[:12] + ("-dirty" if dirty else ""), commit)


def is_release(version: str) -> bool:
    """A clean commit's version: its image, once built, never changes (a -dirty one may)."""
    return bool(VERSION_TAG.match(version)) and not version.endswith("-dirty")


def kept_versions(repository: str) -> list[str]:
    """Version tags of `repository` (infralab/core-server), newest first."""
    images = docker.image.list(repository)
    images.sort(key=lambda image: image.created, reverse=True)
    return [
        tag.partition(":")[2]
        for image in images
        for tag in image.repo_tags
        if tag.startswith(repository + ":") and VERSION_TAG.match(tag.partition(":")[2])
    ]


def prune(repository: str, keep: int = KEEP) -> list[str]:
    """Remove version tags beyond the newest `keep`; an image a container still uses stays. Removed tags."""
    removed = []
    for version in kept_versions(repository)[keep:]:
        try:
            docker.image.remove(f"{repository}:{version}")
        except DockerException:
            continue  # in use by a container (stopped ones too): kept until that one is gone
        removed.append(version)
    return removed


def image_label(image: str, name: str) -> str | None:
    """An OCI label of an image: version (APP_VERSION), revision (APP_COMMIT)."""
    labels = docker.image.inspect(image).config.labels or {}
    return labels.get(f"org.opencontainers.image.{name}")


def running_version(container: Container) -> str:
    """The version a container runs: its image's OCI version label (set from APP_VERSION)."""
    return image_label(container.image, "version") or "?"
