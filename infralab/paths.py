"""Where things live in the repository (and its ignored working folder `.lab/`)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_FILE = REPO_ROOT / ".env"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
NGINX_DIR = REPO_ROOT / "nginx"
# Generated state: chosen images, build contexts. Ignored by git.
WORK_DIR = REPO_ROOT / ".lab"
IMAGES_ENV_FILE = WORK_DIR / "images.env"
COMPONENTS_STATE = WORK_DIR / "components.json"
REPORTS_DIR = REPO_ROOT / "reports"
