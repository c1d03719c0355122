"""Post a Jenkins build's result to Slack, through the lab's own Slack webhook.

    "$LAB_HOME/.venv/bin/python" ci/jenkins/slack_notify.py --channel '#lab-deploys' BODY_FILE...

One source of truth for the webhook: SLACK_WEBHOOK_URL of the running lab's .env ($LAB_HOME/.env), the
URL Alertmanager posts every alert to (a compose secret). No Jenkins credential holds a copy. Its
default, the lab's Slack stand-in (http://slack-sink:8080/...), has a name only inside the lab's
network: from the Docker host it is reached through nginx's /slack-sink/ route with the ops login
(infralab.endpoints), as the suite reaches it; a real Slack URL is posted to as it is.

The message: a header from Jenkins' environment (JOB_NAME, BUILD_NUMBER, BUILD_RESULT set by the
pipeline from currentBuild.currentResult, optional --about), the lines of each BODY_FILE, BUILD_URL.
Exit 1 when Slack did not take it (the Jenkinsfiles print that and leave the build's result alone).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from infralab.endpoints import Endpoints
from infralab.envfile import read_env

STAND_IN_HOST = "slack-sink"
ICONS = {"SUCCESS": "✅", "UNSTABLE": "⚠️", "FAILURE": "❌", "ABORTED": "⏹️"}


def webhook(env_file: Path) -> tuple[str, tuple[str, str] | None]:
    """Where to post from this host, and the login that needs (the stand-in behind nginx only)."""
    url = read_env(env_file).get("SLACK_WEBHOOK_URL", "")
    if not url:
        raise SystemExit(f"SLACK_WEBHOOK_URL is empty in {env_file}: nowhere to post")
    parts = urlsplit(url)
    if parts.hostname == STAND_IN_HOST:
        endpoints = Endpoints.from_env(env_file)
        query = f"?{parts.query}" if parts.query else ""
        return f"{endpoints.base_url}/{STAND_IN_HOST}{parts.path}{query}", endpoints.ops_auth
    return url, None


def message(about: str, bodies: list[Path], environ: dict[str, str]) -> str:
    result = environ.get("BUILD_RESULT") or "UNKNOWN"
    build = f"{environ.get('JOB_NAME', 'jenkins')} #{environ.get('BUILD_NUMBER', '?')}"
    header = f"{ICONS.get(result, '❔')} *{build}* {result}"
    lines = [f"{header}{f' — {about}' if about else ''}"]
    for body in bodies:
        try:
            lines += [line for line in body.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            lines.append(f"({body}: {exc.strerror or exc})")
    if environ.get("BUILD_URL"):
        lines.append(environ["BUILD_URL"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Post a Jenkins build's result to the lab's Slack webhook.")
    parser.add_argument("--channel", required=True, help="e.g. #lab-deploys")
    parser.add_argument("--about", default="", help="said after the result in the first line")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(os.environ.get("LAB_HOME", ".")) / ".env",
        help="the running lab's .env (default: $LAB_HOME/.env)",
    )
    parser.add_argument("bodies", nargs="*", type=Path, help="files whose lines make the message's body")
    args = parser.parse_args(argv)
    url, auth = webhook(args.env_file)
    text = message(args.about, args.bodies, dict(os.environ))
    print(text)
    where = f"{urlsplit(url).netloc}, {args.channel}"  # never the whole URL: a real webhook's path is its secret
    try:
        response = httpx.post(url, json={"channel": args.channel, "text": text}, auth=auth, timeout=20)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        print(f"Slack did not take the message ({where}): HTTP {exc.response.status_code}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:  # not str(exc): it may hold the URL
        print(f"Slack did not take the message ({where}): {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"posted ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
