"""The fault client against a fake admin-server: a session reverts its own faults, never a person's."""

from __future__ import annotations

import json
from itertools import count

import httpx
import pytest

from infralab.faults import FaultError, Faults

pytestmark = pytest.mark.unit


class FakeAdmin:
    """admin-server's /admin/api/faults: inject, list, revert one, revert all."""

    def __init__(self) -> None:
        self.active: dict[str, dict[str, str]] = {}
        self.deleted: list[str] = []
        self.failing: set[str] = set()  # ids whose revert the backend fails
        self._ids = count(1)

    def inject_by_hand(self) -> str:
        """A fault a person injected from the control page, beside the session."""
        fault_id = f"f{next(self._ids)}"
        self.active[fault_id] = {"id": fault_id, "actor": "ui"}
        return fault_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/admin/api/faults")
        if request.method == "POST":
            fault_id = f"f{next(self._ids)}"
            self.active[fault_id] = {"id": fault_id, "actor": "api:pytest", **json.loads(request.content)}
            return httpx.Response(201, json={"fault": self.active[fault_id]})
        if request.method == "GET":
            return httpx.Response(200, json={"faults": list(self.active.values())})
        if path == "":
            self.deleted += list(self.active)
            reverted, self.active = list(self.active.values()), {}
            return httpx.Response(200, json={"reverted": reverted})
        fault_id = path.removeprefix("/")
        if fault_id not in self.active:
            return httpx.Response(404, json={"error": "not found"})
        if fault_id in self.failing:
            return httpx.Response(502, json={"error": "docker-proxy refused"})
        self.deleted.append(fault_id)
        return httpx.Response(200, json={"fault": self.active.pop(fault_id)})


@pytest.fixture
def admin() -> FakeAdmin:
    return FakeAdmin()


@pytest.fixture
def faults(admin: FakeAdmin) -> Faults:
    return Faults(httpx.Client(base_url="http://lab", transport=httpx.MockTransport(admin.handle)), "token")


def test_only_the_faults_this_client_injected_are_reverted(admin: FakeAdmin, faults: Faults) -> None:
    by_hand = admin.inject_by_hand()
    ours = [faults.inject("chaos.cpu", "core-1", ttl=60)["id"], faults.inject("chaos.latency", "core-2", ttl=60)["id"]]
    assert faults.revert_injected() == sorted(ours)
    assert list(admin.active) == [by_hand]
    assert sorted(admin.deleted) == sorted(ours)
    assert faults.injected == set()


def test_a_fault_reverted_or_ended_already_is_not_reverted_again(admin: FakeAdmin, faults: Faults) -> None:
    reverted = faults.inject("chaos.cpu", "core-1", ttl=60)["id"]
    expired = faults.inject("chaos.latency", "core-2", ttl=1)["id"]
    faults.revert(reverted)
    assert faults.injected == {expired}
    del admin.active[expired]  # its TTL ran out
    assert faults.revert_injected() == []
    assert admin.deleted == [reverted]


def test_a_fault_ending_between_the_listing_and_its_revert_is_fine(admin: FakeAdmin, faults: Faults) -> None:
    fault_id = faults.inject("chaos.cpu", "core-1", ttl=60)["id"]
    listing = faults.active

    def then_it_expires() -> list[dict[str, str]]:
        found = listing()
        admin.active.clear()
        return found

    faults.active = then_it_expires  # type: ignore[method-assign]
    assert faults.revert_injected() == []  # nothing left to revert, and no error
    assert faults.injected == set()
    assert fault_id not in admin.deleted


def test_every_revert_is_tried_and_the_failures_are_named(admin: FakeAdmin, faults: Faults) -> None:
    stuck = faults.inject("container.pause", "infralab-ext-api-1", ttl=60)["id"]
    fine = faults.inject("chaos.cpu", "core-1", ttl=60)["id"]
    admin.failing.add(stuck)
    with pytest.raises(FaultError, match=rf"could not be reverted: DELETE /faults/{stuck}: 502"):
        faults.revert_injected()
    assert list(admin.active) == [stuck]
    assert admin.deleted == [fine]
    assert faults.injected == {stuck}  # still ours: a later attempt tries it again


def test_revert_all_reverts_a_persons_faults_too(admin: FakeAdmin, faults: Faults) -> None:
    admin.inject_by_hand()
    faults.inject("chaos.cpu", "core-1", ttl=60)
    faults.revert_all()
    assert admin.active == {}
    assert faults.injected == set()


def test_an_error_carries_its_status(faults: Faults) -> None:
    with pytest.raises(FaultError) as raised:
        faults.revert("f404")
    assert raised.value.status_code == 404
