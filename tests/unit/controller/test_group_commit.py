"""Group commit: many writes share one store transaction, and none is acknowledged before it is durable."""

import random

import pytest
import trio

from ziti_aio.common.errors import StoreFailed
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.model import Model
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.controller.store.sqlite_store import SqliteStore


class CountingStore(SqliteStore):
    """The real store, remembering how many commands each transaction carried."""

    def __init__(self, path):
        super().__init__(path)
        self.batches: list[int] = []

    def write(self, batch):
        super().write(batch)
        self.batches.append(len(batch))


def put(ident: str, **extra) -> Command:
    return Command("test", "put", (Put(Kind.CONFIG_TYPES, {"id": ident, "name": ident, **extra}),))


def on_disk(path) -> set[str]:
    again = SqliteStore(path)
    try:
        return set(again.load_all().get(Kind.CONFIG_TYPES, {}))
    finally:
        again.close()


async def test_concurrent_writes_share_transactions_and_are_durable_when_acknowledged(tmp_path):
    store = CountingStore(tmp_path / "s.db")
    model = await Model.open(store)
    acknowledged: list[str] = []

    async def writer(n: int) -> None:
        ident = f"w{n}"
        await model.transact(lambda: put(ident))
        assert ident in on_disk(tmp_path / "s.db"), "acknowledged before it was in the file"
        acknowledged.append(ident)

    async with trio.open_nursery() as nursery:
        for n in range(64):
            nursery.start_soon(writer, n)
    assert len(acknowledged) == 64
    assert sum(store.batches) == 64
    assert len(store.batches) < 64, f"every write had its own transaction: {store.batches}"
    assert on_disk(tmp_path / "s.db") == set(acknowledged)


async def test_a_batch_of_one_is_the_old_one_fsync_per_write(tmp_path):
    store = CountingStore(tmp_path / "s.db")
    model = await Model.open(store, max_batch_commands=1)
    async with trio.open_nursery() as nursery:
        for n in range(16):
            nursery.start_soon(model.transact, lambda n=n: put(f"w{n}"))
    assert store.batches == [1] * 16


async def test_data_the_store_cannot_hold_fails_that_write_alone(tmp_path):
    model = await Model.open(SqliteStore(tmp_path / "s.db"))
    with pytest.raises(TypeError):
        await model.transact(lambda: put("bad", schema=object()))
    assert "bad" not in model.entities[Kind.CONFIG_TYPES]
    await model.transact(lambda: put("good"))
    assert on_disk(tmp_path / "s.db") == {"good"}


async def test_a_failed_store_refuses_every_later_write(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    model = await Model.open(store)
    await model.transact(lambda: put("before"))
    store._db.execute("PRAGMA query_only = 1")  # the file refuses writes from now on, as a full disk would
    with pytest.raises(StoreFailed, match="restart the controller"):
        await model.transact(lambda: put("lost"))
    built: list[str] = []

    def build() -> Command:
        built.append("called")
        return put("later")

    with pytest.raises(StoreFailed):
        await model.transact(build)
    assert built == [], "a write was built against a model the store no longer matches"
    assert on_disk(tmp_path / "s.db") == {"before"}


async def test_cancelled_writers_leave_memory_and_file_equal(tmp_path):
    model = await Model.open(SqliteStore(tmp_path / "s.db"))
    rng = random.Random(7)

    async def writer(n: int) -> None:
        with trio.move_on_after(rng.random() * 0.02):
            await model.transact(lambda: put(f"w{n}"))

    async with trio.open_nursery() as nursery:
        for n in range(100):
            nursery.start_soon(writer, n)
    in_memory = set(model.entities[Kind.CONFIG_TYPES])
    assert len(in_memory) > 0
    assert on_disk(tmp_path / "s.db") == in_memory
