"""Sessions are revoked when a change takes access away, and only such changes scan them."""

import pytest

from ziti_aio.controller.model.model import Model
from ziti_aio.controller.store.commands import Command, Delete, Put
from ziti_aio.controller.store.sqlite_store import SqliteStore

IDENTITY = {"id": "i1", "name": "dialer", "roleAttributes": ["clients"], "disabled": False}
SESSION = {"id": "s-1", "type": "Dial", "identityId": "i1", "serviceId": "svc1", "apiSessionId": "a1"}


@pytest.fixture
async def model(tmp_path):
    store = SqliteStore(tmp_path / "ctrl.db")
    model = await Model.open(store)
    await model.transact(lambda: Command("test", "seed", (
        Put("identities", IDENTITY),
        Put("services", {"id": "svc1", "name": "web", "roleAttributes": ["web"]}),
        Put("service-policies", {"id": "p1", "name": "p", "type": "Dial", "semantic": "AnyOf",
                                 "identityRoles": ["#clients"], "serviceRoles": ["#web"]}),
        Put("sessions", SESSION),
    )))
    yield model
    store.close()


async def _put(model, kind, data):
    await model.transact(lambda: Command("test", "update", (Put(kind, data),)))


async def test_storing_sdk_info_keeps_sessions_without_a_scan(model, monkeypatch):
    scanned = []
    original = model.policy.permissions_for
    monkeypatch.setattr(model.policy, "permissions_for", lambda *a: scanned.append(a) or original(*a))
    await _put(model, "identities", {**IDENTITY, "sdkInfo": {"type": "ziti-sdk-c"}})
    assert "s-1" in model.entities["sessions"]
    assert scanned == []


@pytest.mark.parametrize("change", [{"roleAttributes": ["other"]}, {"disabled": True}])
async def test_changing_access_fields_revokes(model, change):
    await _put(model, "identities", {**IDENTITY, **change})
    assert "s-1" not in model.entities["sessions"]
    assert model.entities["revocations"]["s-1"]["type"] == "SESSION"


async def test_deleting_a_policy_revokes(model):
    await model.transact(lambda: Command("test", "delete", (Delete("service-policies", "p1"),)))
    assert "s-1" not in model.entities["sessions"]
