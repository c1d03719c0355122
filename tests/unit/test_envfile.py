from __future__ import annotations

from pathlib import Path

import pytest

from infralab.envfile import GENERATED_SECRETS, ensure_env, htpasswd_matches, read_env, ssha_htpasswd

pytestmark = pytest.mark.unit

EXAMPLE = """# comment
LAB_HTTP_PORT=8080
LAB_OPS_USER=ops
LAB_OPS_PASSWORD=
ADMIN_TOKEN=
GRAFANA_ADMIN_PASSWORD=
LAB_OPS_HTPASSWD=
"""


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / ".env.example"
    path.write_text(EXAMPLE)
    return path


def test_first_run_creates_env_with_random_secrets_private_to_the_owner(tmp_path: Path, example: Path) -> None:
    env = tmp_path / ".env"
    changes = ensure_env(env, example)
    values = read_env(env)
    assert changes[0] == "created .env from .env.example"
    assert all(len(values[key]) >= 24 for key in GENERATED_SECRETS)
    assert len({values[key] for key in GENERATED_SECRETS}) == len(GENERATED_SECRETS)
    assert htpasswd_matches(values["LAB_OPS_HTPASSWD"], "ops", values["LAB_OPS_PASSWORD"])
    assert env.stat().st_mode & 0o777 == 0o600


def test_second_run_changes_nothing(tmp_path: Path, example: Path) -> None:
    env = tmp_path / ".env"
    ensure_env(env, example)
    before = env.read_text()
    assert ensure_env(env, example) == []
    assert env.read_text() == before


def test_operator_values_are_kept_and_new_keys_added(tmp_path: Path, example: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("LAB_HTTP_PORT=9000\nLAB_OPS_PASSWORD=mine\n")
    changes = ensure_env(env, example)
    values = read_env(env)
    assert values["LAB_HTTP_PORT"] == "9000"
    assert values["LAB_OPS_PASSWORD"] == "mine"
    assert "added ADMIN_TOKEN (new in .env.example)" in changes
    assert htpasswd_matches(values["LAB_OPS_HTPASSWD"], "ops", "mine")


def test_htpasswd_is_rederived_when_the_password_changes(tmp_path: Path, example: Path) -> None:
    env = tmp_path / ".env"
    ensure_env(env, example)
    env.write_text(
        env.read_text().replace(f"LAB_OPS_PASSWORD={read_env(env)['LAB_OPS_PASSWORD']}", "LAB_OPS_PASSWORD=changed")
    )
    assert "derived LAB_OPS_HTPASSWD from LAB_OPS_USER/LAB_OPS_PASSWORD" in ensure_env(env, example)
    assert htpasswd_matches(read_env(env)["LAB_OPS_HTPASSWD"], "ops", "changed")


def test_ssha_known_vector() -> None:
    # Same salt, same line: the scheme is deterministic given the salt.
    line = ssha_htpasswd("ops", "secret", salt=b"12345678")
    assert line == ssha_htpasswd("ops", "secret", salt=b"12345678")
    assert line.startswith("ops:{SSHA}")
    assert htpasswd_matches(line, "ops", "secret")
    assert not htpasswd_matches(line, "ops", "Secret")
    assert not htpasswd_matches(line, "other", "secret")
