"""Obtain every component's image: official pinned images where a registry answers,
locally built offline images where not, and a clear account of what was left out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from infralab.components import BASE_IMAGE, COMPONENTS, OFFLINE_DIR, Component, HostBuild
from infralab.paths import COMPONENTS_STATE, IMAGES_ENV_FILE, WORK_DIR
from infralab.versions import BuildVersion, prune, source_version

Log = Callable[[str], None]


class ImageMode(StrEnum):
    AUTO = "auto"  # official where pullable, offline otherwise
    OFFICIAL = "official"  # official or left out
    OFFLINE = "offline"  # offline or left out (never touches a registry)


class Source(StrEnum):
    OFFICIAL = "official"
    BUILT = "built"  # our own service, multi-stage Dockerfile from official toolchain images
    OFFLINE = "offline"
    LEFT_OUT = "left-out"


@dataclass(frozen=True)
class Resolution:
    component: str
    image: str | None
    source: Source
    reason: str = ""
    version: str = ""  # the lab's own services: the image's version and commit (versions.py)
    commit: str = ""


class ImageError(RuntimeError):
    """An image that should have been built could not be; the message says where to look."""


@dataclass(frozen=True)
class ImagePlan:
    resolutions: tuple[Resolution, ...]

    def by_component(self) -> dict[str, Resolution]:
        return {r.component: r for r in self.resolutions}

    @property
    def left_out(self) -> tuple[Resolution, ...]:
        return tuple(r for r in self.resolutions if r.source is Source.LEFT_OUT)

    @property
    def profiles(self) -> tuple[str, ...]:
        """Profiles whose every component has an image."""
        ok: dict[str, bool] = {}
        resolved = self.by_component()
        for component in COMPONENTS:
            if component.profile:
                has_image = resolved[component.name].source is not Source.LEFT_OUT
                ok[component.profile] = ok.get(component.profile, True) and has_image
        return tuple(sorted(p for p, good in ok.items() if good))

    @property
    def services(self) -> tuple[str, ...]:
        """Compose services this plan runs."""
        active = set(self.profiles)
        return tuple(s for c in COMPONENTS if c.profile is None or c.profile in active for s in c.services)

    def optional_groups(self) -> dict[str, tuple[str, ...]]:
        """Compose services of each profile this plan runs: each group starts, or is left out, as one."""
        active = set(self.profiles)
        groups: dict[str, tuple[str, ...]] = {}
        for c in COMPONENTS:
            if c.profile in active:
                groups[c.profile] = (*groups.get(c.profile, ()), *c.services)
        return groups

    def without(self, reasons: dict[str, str]) -> ImagePlan:
        """This plan with the profiles in `reasons` left out, each with its reason."""
        profile_of = {c.name: c.profile for c in COMPONENTS}
        return ImagePlan(
            tuple(
                Resolution(r.component, None, Source.LEFT_OUT, reasons[profile])
                if (profile := profile_of[r.component]) in reasons
                else r
                for r in self.resolutions
            )
        )

    def env(self) -> dict[str, str]:
        values = {c.image_var: r.image for c in COMPONENTS if (r := self.by_component()[c.name]).image}
        for c in COMPONENTS:
            if (r := self.by_component()[c.name]).version:
                # Build arguments of the online path's Dockerfiles (docker-compose.yml).
                values[f"{c.env_prefix}_VERSION"], values[f"{c.env_prefix}_COMMIT"] = r.version, r.commit
        values["COMPOSE_PROFILES"] = ",".join(self.profiles)
        return values

    def with_image(self, component: str, image: str, version: str, commit: str) -> ImagePlan:
        """This plan with one of our own services on another image (a deploy)."""
        return ImagePlan(
            tuple(
                replace(r, image=image, version=version, commit=commit) if r.component == component else r
                for r in self.resolutions
            )
        )

    def write_env(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# Written by `make up` and `make deploy` (infralab): image choices and profiles.", ""]
        lines += [f"{k}={v}" for k, v in sorted(self.env().items())]
        path.write_text("\n".join(lines) + "\n")

    def save(self) -> None:
        self.write_env(IMAGES_ENV_FILE)
        COMPONENTS_STATE.write_text(json.dumps([asdict(r) for r in self.resolutions], indent=2) + "\n")

    @classmethod
    def load(cls) -> ImagePlan:
        if not COMPONENTS_STATE.exists():
            raise FileNotFoundError(f"{COMPONENTS_STATE} is missing: run `make up` first")
        raw = json.loads(COMPONENTS_STATE.read_text())
        return cls(
            tuple(
                Resolution(
                    r["component"],
                    r["image"],
                    Source(r["source"]),
                    r["reason"],
                    r.get("version", ""),
                    r.get("commit", ""),
                )
                for r in raw
            )
        )


def _docker(*args: str, log_file: Path | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # no buildx on the offline path
    if log_file is None:
        return subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=timeout)
    with log_file.open("w") as out:
        return subprocess.run(
            ["docker", *args], stdout=out, stderr=subprocess.STDOUT, text=True, env=env, timeout=timeout
        )


def image_exists(image: str) -> bool:
    return _docker("image", "inspect", image).returncode == 0


def try_pull(image: str) -> tuple[bool, str]:
    """Pull an image unless present; (ok, first line of the error)."""
    if image_exists(image):
        return True, "present locally"
    try:
        result = _docker("pull", "--quiet", image, timeout=600)
    except subprocess.TimeoutExpired:
        return False, "pull timed out after 600 s"
    if result.returncode == 0:
        return True, "pulled"
    lines = (result.stderr or result.stdout).strip().splitlines() or ["docker pull failed"]
    return False, lines[-1]


def _log_tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _newest_mtime(paths: Iterable[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def host_build_is_fresh(build: HostBuild) -> bool:
    return build.artifact.exists() and build.artifact.stat().st_mtime >= _newest_mtime(build.sources)


class ImageBuilder:
    """Builds offline images on the shared Debian base; host builds run one at a time (2 cores)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.logs_dir = WORK_DIR / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._host_lock = threading.Lock()
        self._base_lock = threading.Lock()
        self._base_ready = False

    def base(self) -> None:
        """The shared Debian base (the script keeps a cached one); once per run, whichever
        offline build needs it first, also when only one component's official pull failed."""
        with self._base_lock:
            if self._base_ready:
                return
            self.log(f"offline path: base image {BASE_IMAGE}")
            self._base_script()
            self._base_ready = True

    def _base_script(self) -> None:
        log_file = self.logs_dir / "build-base.log"
        with log_file.open("w") as out:
            result = subprocess.run(
                [str(OFFLINE_DIR / "base" / "build-base.sh"), BASE_IMAGE], stdout=out, stderr=subprocess.STDOUT
            )
        if result.returncode != 0:
            raise ImageError(f"base image {BASE_IMAGE} failed (log {log_file}):\n{_log_tail(log_file)}")

    def host_artifact(self, component: Component) -> Path:
        build = component.host_build
        assert build is not None
        if host_build_is_fresh(build):
            return build.artifact
        tool = build.command[0]
        if shutil.which(tool) is None:
            raise ImageError(f"{component.name}: `{tool}` is not installed; the offline path builds it on the host")
        log_file = self.logs_dir / f"host-build-{component.name}.log"
        with self._host_lock:
            self.log(f"  {component.name}: host build `{' '.join(build.command)}` (log {log_file})")
            with log_file.open("w") as out:
                result = subprocess.run(
                    build.command, cwd=build.cwd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **build.env}
                )
        if result.returncode != 0 or not build.artifact.exists():
            raise ImageError(f"{component.name}: host build failed (log {log_file}):\n{_log_tail(log_file)}")
        return build.artifact

    def offline(self, component: Component, version: BuildVersion | None = None) -> str:
        self.base()
        return self.offline_image(component, version)

    def online_image(self, component: Component, version: BuildVersion) -> str:
        """One of our services from its own Dockerfile (official toolchain images), as Compose builds it
        where a registry answers; `make deploy` builds this way on that path."""
        log_file = self.logs_dir / f"build-{component.name}.log"
        tag = f"infralab/{component.name}:{version.version}"
        args = (f"--build-arg={k}={v}" for k, v in version.build_args.items())
        result = _docker("build", *args, "-t", tag, str(component.source_dir), log_file=log_file)
        if result.returncode != 0:
            raise ImageError(f"{component.name}: image build failed (log {log_file}):\n{_log_tail(log_file)}")
        prune(f"infralab/{component.name}")
        return tag

    def offline_image(self, component: Component, version: BuildVersion | None = None) -> str:
        """The component's image on the (already built) base; a versioned one is tagged with its version."""
        if component.host_build:
            artifact = self.host_artifact(component)
            context = WORK_DIR / "build" / component.name
            shutil.rmtree(context, ignore_errors=True)
            context.mkdir(parents=True)
            for path in (artifact, *component.host_build.extras):
                shutil.copy2(path, context / path.name)
        else:
            context = component.context or component.dockerfile.parent
        log_file = self.logs_dir / f"build-{component.name}.log"
        tag = f"infralab/{component.name}:{version.version}" if version else component.offline_tag
        args = {"BASE_IMAGE": BASE_IMAGE, **(version.build_args if version else {})}
        result = _docker(
            "build",
            *(f"--build-arg={k}={v}" for k, v in args.items()),
            "-f",
            str(component.dockerfile),
            "-t",
            tag,
            str(context),
            log_file=log_file,
        )
        if result.returncode != 0:
            raise ImageError(f"{component.name}: offline image failed (log {log_file}):\n{_log_tail(log_file)}")
        if version:
            prune(f"infralab/{component.name}")
        return tag


def resolve_images(mode: ImageMode, optional: set[str], log: Log, *, jobs: int = 3) -> ImagePlan:
    """Decide and obtain every component's image; raises ImageError when a build breaks.

    `optional` names the profiles (grafana, logs, jenkins) the operator wants when possible.
    """
    registry_ok = False
    registry_reason = "offline mode: no registry is asked"
    if mode is not ImageMode.OFFLINE:
        probe = next(c.official for c in COMPONENTS if c.official)
        registry_ok, registry_reason = try_pull(probe)
        log(f"registry: {'reachable' if registry_ok else 'unreachable'} ({registry_reason})")

    builder = ImageBuilder(log)
    if any(c.offline for c in COMPONENTS) and (mode is ImageMode.OFFLINE or not registry_ok):
        builder.base()  # before the parallel builds, so its log comes first

    def resolve(component: Component) -> Resolution:
        if component.profile and component.profile not in optional:
            return Resolution(component.name, None, Source.LEFT_OUT, "not selected in LAB_OPTIONAL")
        if registry_ok and component.official:
            ok, reason = try_pull(component.official)
            if ok:
                return Resolution(component.name, component.official, Source.OFFICIAL, reason)
            if mode is ImageMode.OFFICIAL or not component.offline:
                return Resolution(component.name, None, Source.LEFT_OUT, f"pull failed: {reason}")
        version = source_version(component.host_build.cwd) if component.versioned and component.host_build else None
        tagged = {"version": version.version, "commit": version.commit} if version else {}
        if registry_ok and component.official is None:
            return Resolution(
                component.name,
                f"infralab/{component.name}:{version.version if version else 'latest'}",
                Source.BUILT,
                "built by compose from its Dockerfile",
                **tagged,
            )
        if mode is ImageMode.OFFICIAL or not component.offline:
            why = component.why_no_offline or "no offline build"
            where = "offline mode" if mode is ImageMode.OFFLINE else "no registry reachable"
            return Resolution(component.name, None, Source.LEFT_OUT, f"{where}; {why}")
        return Resolution(
            component.name, builder.offline(component, version), Source.OFFLINE, "built offline", **tagged
        )

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        resolutions = tuple(pool.map(resolve, COMPONENTS))
    for r in resolutions:
        log(f"  {r.component:<14} {r.source.value:<9} {r.image or '-'}  ({r.reason})")
    return ImagePlan(resolutions)
