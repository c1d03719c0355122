"""The lab's `.env`: created from `.env.example` on first `make up`, with random secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from dotenv import dotenv_values

from infralab.paths import ENV_EXAMPLE, ENV_FILE

# Left empty in .env.example; `make up` fills each with a fresh random value.
GENERATED_SECRETS = (
    "ADMIN_TOKEN",
    "LAB_OPS_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "JENKINS_ADMIN_PASSWORD",
    "POSTGRES_PASSWORD",
)
# Derived from LAB_OPS_USER / LAB_OPS_PASSWORD (nginx basic auth for the ops routes).
HTPASSWD_KEY = "LAB_OPS_HTPASSWD"


def ssha_htpasswd(user: str, password: str, salt: bytes | None = None) -> str:
    """An htpasswd line in the {SSHA} scheme nginx understands."""
    salt = salt if salt is not None else secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}"


def htpasswd_matches(line: str, user: str, password: str) -> bool:
    name, sep, hashed = line.partition(":")
    if not sep or name != user or not hashed.startswith("{SSHA}"):
        return False
    raw = base64.b64decode(hashed[len("{SSHA}") :])
    digest, salt = raw[:20], raw[20:]
    return hmac.compare_digest(digest, hashlib.sha1(password.encode() + salt).digest())


def read_env(path: Path = ENV_FILE) -> dict[str, str]:
    return {k: v or "" for k, v in dotenv_values(path).items()}


def _set(lines: list[str], key: str, value: str) -> None:
    for i, line in enumerate(lines):
        if line.split("=", 1)[0].strip() == key and not line.lstrip().startswith("#"):
            lines[i] = f"{key}={value}"
            return
    lines.append(f"{key}={value}")


def ensure_env(path: Path = ENV_FILE, example: Path = ENV_EXAMPLE) -> list[str]:
    """Create or complete `.env`; returns what was changed, for the operator to see.

    Existing values are never overwritten, except the derived htpasswd line when it no
    longer matches the ops user and password.
    """
    changes: list[str] = []
    if not path.exists():
        path.write_text(example.read_text())
        path.chmod(0o600)
        changes.append(f"created {path.name} from {example.name}")
    lines = path.read_text().splitlines()
    current = read_env(path)
    for key, value in read_env(example).items():
        if key not in current:
            _set(lines, key, value)
            current[key] = value
            changes.append(f"added {key} (new in {example.name})")
    for key in GENERATED_SECRETS:
        if not current.get(key):
            current[key] = secrets.token_urlsafe(24)
            _set(lines, key, current[key])
            changes.append(f"generated {key}")
    user, password = current.get("LAB_OPS_USER") or "ops", current["LAB_OPS_PASSWORD"]
    if not htpasswd_matches(current.get(HTPASSWD_KEY, ""), user, password):
        _set(lines, HTPASSWD_KEY, ssha_htpasswd(user, password))
        changes.append(f"derived {HTPASSWD_KEY} from LAB_OPS_USER/LAB_OPS_PASSWORD")
    if changes:
        path.write_text("\n".join(lines) + "\n")
    return changes
