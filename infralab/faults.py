"""Fault injection the way an operator does it: through admin-server's API (via nginx)."""

from __future__ import annotations

from typing import Any

import httpx


class FaultError(RuntimeError):
    """admin-server refused or failed an action; the message carries its answer."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Faults:
    def __init__(self, client: httpx.Client, token: str, *, actor: str = "pytest") -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "X-Admin-Actor": actor}
        # The ids of the faults this client injected and has not reverted: what a session
        # attached to someone's lab may revert, and nothing else.
        self.injected: set[str] = set()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.client.request(method, f"/admin/api{path}", headers=self.headers, **kwargs)
        if response.is_error:
            raise FaultError(f"{method} {path}: {response.status_code} {response.text}", response.status_code)
        body: dict[str, Any] = response.json()
        return body

    def inject(self, fault_type: str, target: str, *, ttl: int, **params: Any) -> dict[str, Any]:
        body = {"type": fault_type, "target": target, "params": params, "ttl": ttl}
        fault: dict[str, Any] = self._call("POST", "/faults", json=body)["fault"]
        self.injected.add(str(fault["id"]))
        return fault

    def active(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return faults

    def revert(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")
        self.injected.discard(fault_id)

    def revert_injected(self) -> list[str]:
        """Revert the faults this client injected that are still active, and only those: a fault
        anyone else injected (a person, on the lab a session attached to) stays as it is.

        Returns the ids reverted. Every one is tried; FaultError afterwards names those that failed.
        """
        active = {str(f["id"]) for f in self.active()}
        reverted: list[str] = []
        failed: dict[str, str] = {}
        for fault_id in sorted(self.injected & active):
            try:
                self.revert(fault_id)
            except FaultError as exc:
                if exc.status_code != 404:  # 404: it ended meanwhile (its TTL), as wanted
                    failed[fault_id] = str(exc)
            else:
                reverted.append(fault_id)
        self.injected = set(failed)  # the others are reverted or had ended already
        if failed:
            raise FaultError("faults this session injected could not be reverted: " + "; ".join(failed.values()))
        return reverted

    def revert_all(self) -> None:
        """Revert every active fault, whoever injected it."""
        self._call("DELETE", "/faults")
        self.injected.clear()
