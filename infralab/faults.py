"""Fault injection the way an operator does it: through admin-server's API (via nginx)."""

from __future__ import annotations

from typing import Any

import httpx


class FaultError(RuntimeError):
    """admin-server refused or failed an action; the message carries its answer."""


class Faults:
    def __init__(self, client: httpx.Client, token: str, *, actor: str = "pytest") -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "X-Admin-Actor": actor}

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.client.request(method, f"/admin/api{path}", headers=self.headers, **kwargs)
        if response.is_error:
            raise FaultError(f"{method} {path}: {response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def inject(self, fault_type: str, target: str, *, ttl: int, **params: Any) -> dict[str, Any]:
        body = {"type": fault_type, "target": target, "params": params, "ttl": ttl}
        fault: dict[str, Any] = self._call("POST", "/faults", json=body)["fault"]
        return fault

    def active(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return faults

    def revert(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def revert_all(self) -> None:
        self._call("DELETE", "/faults")
