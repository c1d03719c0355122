"""`python -m infralab <command>`: what the Makefile's up/down/clean/ps/logs/bench targets run."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import httpx
from python_on_whales.exceptions import DockerException

from infralab import bench, deploy, rollout, stack, versions
from infralab.components import COMPONENTS
from infralab.deploy_events import DEPLOY_LOG
from infralab.endpoints import Endpoints
from infralab.envfile import ensure_env, read_env
from infralab.images import ImageError, ImageMode, ImagePlan, resolve_images
from infralab.lab import Lab
from infralab.stack import StackError
from infralab.waiting import DeadlineExceededError


def say(message: str) -> None:
    print(message, flush=True)


def prepare_images() -> ImagePlan:
    """Create/complete .env, then obtain every image; the plan is saved for later commands."""
    for change in ensure_env():
        say(f".env: {change}")
    settings = read_env()
    try:
        mode = ImageMode(settings.get("LAB_IMAGES") or "auto")
    except ValueError:
        raise SystemExit(f"LAB_IMAGES must be one of {', '.join(m.value for m in ImageMode)}") from None
    optional = {p.strip() for p in (settings.get("LAB_OPTIONAL") or "").split(",") if p.strip()}
    say(f"images: mode {mode.value}, optional components wanted: {', '.join(sorted(optional)) or 'none'}")
    plan = resolve_images(mode, optional, say)
    plan.save()
    return plan


def cmd_up(_: argparse.Namespace) -> int:
    started = time.monotonic()
    if orphaned := stack.orphaned_volumes():
        say(
            f"make up stopped before creating .env: {', '.join(orphaned)} hold(s) data of an earlier lab,"
            " initialised with the passwords of its .env; new random passwords could not open them.\n"
            "Either copy that lab's .env here, or delete the old lab's containers and data:\n"
            f"  docker ps -aq --filter label=com.docker.compose.project={stack.PROJECT} | xargs -r docker rm -f\n"
            f"  docker volume rm {' '.join(orphaned)}"
        )
        return 1
    try:
        plan = prepare_images()
        say(f"starting {len(plan.services)} containers (profiles: {', '.join(plan.profiles) or 'none'})")
        plan = stack.up(plan, say)
        plan.save()
    except (ImageError, StackError, DockerException) as exc:
        say(f"\nmake up failed: {exc}")
        return 1
    say(
        f"\nlab is up in {time.monotonic() - started:.0f}s. URLs (ops routes: user {read_env().get('LAB_OPS_USER')},"
        " password LAB_OPS_PASSWORD in .env):"
    )
    for name, url in stack.urls().items():
        absent = name.split()[0].lower() in {r.component for r in plan.left_out}
        say(f"  {name:<22} {url}{'   (left out)' if absent else ''}")
    for r in plan.left_out:
        say(f"left out: {r.component} ({r.reason})")
    return 0


def cmd_images(_: argparse.Namespace) -> int:
    """Every image the lab needs, built or pulled, nothing started (`make suite` runs this before
    pytest, so a cold build is not charged to the first test's timeout)."""
    try:
        prepare_images()
    except ImageError as exc:
        say(f"\nimages failed: {exc}")
        return 1
    return 0


def _saved_plan() -> ImagePlan:
    try:
        return ImagePlan.load()
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None


def cmd_down(_: argparse.Namespace) -> int:
    stack.down(_saved_plan())
    say("lab stopped (volumes kept; `make clean` removes them)")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise SystemExit("make clean deletes all lab volumes (metrics, alerts state): confirm with yes=1")
        if input("Delete the lab's containers AND volumes (metrics, alert state)? [y/N] ").strip().lower() != "y":
            say("nothing removed")
            return 1
    stack.down(_saved_plan(), volumes=True)
    say("lab removed, volumes included")
    return 0


def cmd_ps(_: argparse.Namespace) -> int:
    plan = _saved_plan()
    client = stack.compose_client(plan)
    for state in stack.service_states(client, plan.services).values():
        say(f"{state.service:<16} {state.state:<10} {state.health}")
    for r in plan.left_out:
        say(f"{r.component:<16} left out    {r.reason}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    client = stack.compose_client(_saved_plan())
    for _, line in client.compose.logs(args.services or [], follow=args.follow, tail=args.tail, stream=True):
        sys.stdout.write(line.decode(errors="replace"))
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    lab = Lab(_saved_plan(), Endpoints.from_env())
    try:
        with lab.endpoints.client() as client:
            rollout.restart(lab, client, args.services, say)
    except ValueError as exc:
        raise SystemExit(f"make restart: {exc}") from None
    except (DeadlineExceededError, StackError, DockerException) as exc:
        say(f"\nmake restart stopped: {exc}\nlater services were not restarted (see `make ps`, `make logs s=...`)")
        return 1
    say("restart done: every service is healthy and back behind nginx")
    return 0


def _ship(args: argparse.Namespace, what: str, ship: Callable[[Lab, httpx.Client], deploy.Release]) -> int:
    lab = Lab(_saved_plan(), Endpoints.from_env())
    try:
        with lab.endpoints.client() as client:
            release = ship(lab, client)
    except deploy.DeployError as exc:
        say(f"\nmake {what}: {exc}")
        return 2
    except deploy.RolledBackError as exc:
        say(f"\nmake {what} failed and was rolled back: {exc}")
        return 1
    except (deploy.GateFailedError, DockerException) as exc:
        say(
            f"\nmake {what} failed and the rollback did not finish: {exc}\nsee `make ps`, `make versions`, {DEPLOY_LOG}"
        )
        return 1
    say(f"\n{what} done: {args.service} runs {release.version}")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    return _ship(args, "deploy", lambda lab, client: deploy.deploy(lab, client, args.service, args.ref, say))


def cmd_rollback(args: argparse.Namespace) -> int:
    return _ship(args, "rollback", lambda lab, client: deploy.rollback(lab, client, args.service, say))


def cmd_versions(_: argparse.Namespace) -> int:
    """Per service of the lab's own: the version each container runs and the versions kept as images."""
    plan = _saved_plan()
    client = stack.compose_client(plan)
    running = {(c.config.labels or {}).get("com.docker.compose.service", c.name): c for c in client.compose.ps()}
    for component in COMPONENTS:
        if not component.versioned:
            continue
        now = [f"{s} {versions.running_version(running[s])}" for s in component.services if s in running]
        kept = versions.kept_versions(f"infralab/{component.name}")
        say(f"{component.name:<14} running: {', '.join(now) or 'not running'}")
        say(f"{'':<14} kept ({len(kept)}, newest first): {' '.join(kept) or 'none'}")
    return 0


def cmd_bench(_: argparse.Namespace) -> int:
    """Settings come from BENCH_* variables (what `make bench` passes through)."""
    return bench.run(bench.Settings.from_environ(), say)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infralab", description="infra-lab control")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="obtain images and start the lab, waiting until healthy").set_defaults(func=cmd_up)
    sub.add_parser("images", help="obtain every image (build or pull), start nothing").set_defaults(func=cmd_images)
    sub.add_parser("down", help="stop and remove containers, keep volumes").set_defaults(func=cmd_down)
    clean = sub.add_parser("clean", help="remove containers and volumes")
    clean.add_argument("--yes", action="store_true", help="do not ask")
    clean.set_defaults(func=cmd_clean)
    sub.add_parser("ps", help="state and health of each service").set_defaults(func=cmd_ps)
    logs = sub.add_parser("logs", help="logs of one or more services")
    logs.add_argument("services", nargs="*")
    logs.add_argument("--follow", "-f", action="store_true")
    logs.add_argument("--tail", default="200")
    logs.set_defaults(func=cmd_logs)
    restart = sub.add_parser(
        "restart", help="restart services one at a time, each healthy and back behind nginx before the next"
    )
    restart.add_argument("services", nargs="+")
    restart.set_defaults(func=cmd_restart)
    ship = sub.add_parser("deploy", help="build a service at a git ref and roll it out, gated, rolling back on failure")
    ship.add_argument("service", help="core-server, worker-server, admin-server or nginx (its configuration)")
    ship.add_argument("--ref", default=None, help="git ref to build (default: the working tree)")
    ship.set_defaults(func=cmd_deploy)
    back = sub.add_parser("rollback", help="return a service to the version its last deploy replaced (no build)")
    back.add_argument("service")
    back.set_defaults(func=cmd_rollback)
    sub.add_parser("versions", help="running and kept versions of the lab's own services").set_defaults(
        func=cmd_versions
    )
    sub.add_parser(
        "bench",
        help="measure a running lab (BENCH_PROJECT, BENCH_ENV_FILE, BENCH_REQUESTS, BENCH_JOBS, BENCH_NOISE_SECONDS)",
    ).set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    return int(args.func(args))
