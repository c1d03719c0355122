"""How the suite reaches the lab: everything goes through nginx, the only published port."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from infralab.envfile import read_env
from infralab.paths import ENV_FILE


@dataclass(frozen=True)
class Endpoints:
    base_url: str
    ops_user: str
    ops_password: str
    admin_token: str

    @classmethod
    def from_env(cls, env_file: Path = ENV_FILE) -> Endpoints:
        """The lab's entry point and credentials from its env file (a lab started from another
        checkout has its own)."""
        env = read_env(env_file)
        port = env.get("LAB_HTTP_PORT") or "8080"
        bind = env.get("LAB_BIND_ADDR") or "127.0.0.1"
        # The suite runs on the lab's host: reach the published port directly, whatever
        # public URL people use.
        host = "127.0.0.1" if bind in ("0.0.0.0", "127.0.0.1") else bind
        return cls(
            f"http://{host}:{port}", env.get("LAB_OPS_USER") or "ops", env["LAB_OPS_PASSWORD"], env["ADMIN_TOKEN"]
        )

    @property
    def ops_auth(self) -> tuple[str, str]:
        return (self.ops_user, self.ops_password)

    def client(self, *, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def ops_client(self, *, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout, auth=self.ops_auth)
