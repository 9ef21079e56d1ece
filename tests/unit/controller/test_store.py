import sqlite3

import pytest

from ziti_aio.common.errors import ConfigError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command, Delete, Put
from ziti_aio.controller.store.sqlite_store import SqliteStore


def test_commands_survive_reopen(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.apply(Command("me", "test", (Put("identities", {"id": "a", "name": "A"}),
                                       Put("services", {"id": "b", "name": "B"}))))
    store.apply(Command("me", "test", (Delete("services", "b"),)))
    store.close()
    again = SqliteStore(tmp_path / "s.db")
    assert again.load_all() == {"identities": {"a": {"id": "a", "name": "A"}}}


def test_a_failing_command_changes_nothing(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.apply(Command("me", "seed", (Put("identities", {"id": "a", "name": "A"}),)))
    bad = Command("me", "bad", (Put("identities", {"id": "b", "name": "B"}),
                                Put("identities", {"id": "c", "name": object()})))
    with pytest.raises(TypeError):
        store.apply(bad)
    assert set(store.load_all()["identities"]) == {"a"}


def test_command_json_round_trip():
    cmd = Command("me", "why", (Put(Kind.CONFIGS, {"id": "1", "x": [1]}), Delete(Kind.SERVICES, "2")))
    again = Command.from_json(cmd.to_json())
    assert again == cmd
    assert all(isinstance(c.kind, Kind) for c in again.changes)


def test_a_command_of_an_unknown_kind_is_refused():
    text = Command("me", "why", (Put(Kind.CONFIGS, {"id": "1"}),)).to_json().replace('"configs"', '"config"')
    with pytest.raises(ValueError, match="config"):
        Command.from_json(text)


def test_a_store_holding_an_unknown_kind_does_not_load(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.apply(Command("me", "seed", (Put(Kind.IDENTITIES, {"id": "a", "name": "A"}),)))
    store.apply(Command("me", "seed", (Put("edge-router", {"id": "b"}),)))
    with pytest.raises(ConfigError, match="unknown kind 'edge-router'"):
        store.load_all()


def test_wal_and_full_sync_are_on(tmp_path):
    SqliteStore(tmp_path / "s.db").close()
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_owned_index_follows_puts_and_deletes(tmp_path):
    from ziti_aio.controller.model.model import Model

    model = await Model.open(SqliteStore(tmp_path / "m.db"))
    a1 = {"id": "a1", "identityId": "i1", "method": "cert"}
    a2 = {"id": "a2", "identityId": "i1", "method": "updb"}
    await model.transact(lambda: Command("t", "t", (Put("authenticators", a1), Put("authenticators", a2))))
    assert {a["id"] for a in model.owned_by("authenticators", "i1")} == {"a1", "a2"}
    moved = {**a2, "identityId": "i2"}
    await model.transact(lambda: Command("t", "t", (Put("authenticators", moved), Delete("authenticators", "a1"))))
    assert model.owned_by("authenticators", "i1") == []
    assert [a["id"] for a in model.owned_by("authenticators", "i2")] == ["a2"]
    reopened = await Model.open(SqliteStore(tmp_path / "m.db"))
    assert [a["id"] for a in reopened.owned_by("authenticators", "i2")] == ["a2"]
