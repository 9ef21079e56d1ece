"""Entity kinds: one record per kind, and a model with a plain table per kind."""

import pytest

from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.model import Model
from ziti_aio.controller.model.records import RECORDS
from ziti_aio.controller.store.sqlite_store import SqliteStore

# Writable fields that are secrets: accepted on input, never shown.
WRITE_ONLY = {(Kind.AUTHENTICATORS, "password")}
BASE = {"id", "createdAt", "updatedAt", "tags", "_links"}


def test_every_kind_has_exactly_one_record():
    assert set(RECORDS) == set(Kind)
    assert all(kind is record.kind for kind, record in RECORDS.items())


def test_every_writable_field_but_a_secret_is_shown():
    for kind, record in RECORDS.items():
        hidden = {f.name for f in record.fields} - set(record.shown) - BASE
        assert {(kind, name) for name in hidden} <= WRITE_ONLY, kind
        assert not set(record.shown) & BASE, kind


async def test_an_unknown_kind_is_an_error_not_an_empty_table(tmp_path):
    model = await Model.open(SqliteStore(tmp_path / "m.db"))
    assert list(model.all(Kind.EDGE_ROUTERS)) == []
    with pytest.raises(KeyError):
        model.all("edge-router")
    with pytest.raises(KeyError):
        model.where("identity", name="x")
    with pytest.raises(NotFoundError):
        model.get(Kind.IDENTITIES, "nobody")
    assert set(model.entities) == set(Kind)
