"""Throwaway commits for the deploy drills: a real change of the repository, shipped by `make deploy`.

A change is committed in a temporary worktree on top of `base` and left on no branch: the deploy
checks it out by its hash like any other ref, and git collects it eventually. Nothing in the
services knows about drills; a bad version is bad because of what its commit changes.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from infralab import deploy
from infralab.components import Component
from infralab.lab import Lab
from infralab.paths import REPO_ROOT

Edit = Callable[[str], str]


def _git(*args: str, cwd: Path = REPO_ROOT) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def replacing(old: str, new: str) -> Edit:
    """An edit replacing `old`, which must be there exactly once (a drill that no longer matches the code fails)."""

    def edit(text: str) -> str:
        if text.count(old) != 1:
            raise ValueError(f"expected {old!r} once, found it {text.count(old)} times")
        return text.replace(old, new)

    return edit


def commit_change(edits: Mapping[str, Edit | str], message: str, *, base: str = "HEAD") -> str:
    """The hash of a commit on `base` with `edits` (path -> new content, or a function of the old one)."""
    with tempfile.TemporaryDirectory(prefix="infralab-change-") as tmp:
        tree = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", str(tree), base)
        try:
            for path, edit in edits.items():
                file = tree / path
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(edit if isinstance(edit, str) else edit(file.read_text()))
            _git("add", "-A", cwd=tree)
            identity = ("-c", "user.name=infralab drills", "-c", "user.email=drills@infralab.invalid")
            _git(*identity, "commit", "-q", "-m", message, cwd=tree)
            return _git("rev-parse", "HEAD", cwd=tree)
        finally:
            _git("worktree", "remove", "--force", str(tree))


def say(message: str) -> None:
    """A deploy step as `make deploy` prints it, in the drill's captured output."""
    print(f"[deploy] {message}", flush=True)


def built(lab: Lab, component: Component, edits: Mapping[str, Edit | str], message: str) -> deploy.Release:
    """The image of a change, built before the drill starts (its deploy then finds the image kept)."""
    sha = commit_change(edits, message)
    return deploy.build(component, sha, lab.plan.by_component()[component.name].source, say)
