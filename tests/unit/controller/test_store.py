import sqlite3

import pytest

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
    cmd = Command("me", "why", (Put("k", {"id": "1", "x": [1]}), Delete("k", "2")))
    assert Command.from_json(cmd.to_json()) == cmd


def test_wal_and_full_sync_are_on(tmp_path):
    SqliteStore(tmp_path / "s.db").close()
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
