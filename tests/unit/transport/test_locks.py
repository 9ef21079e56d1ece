"""WriteLock: FIFO hand-over, a cancelled waiter never holds it, a free lock is taken without yielding."""

from __future__ import annotations

import trio
import trio.testing

from ziti_aio.transport.locks import WriteLock


async def test_waiters_get_the_lock_in_arrival_order_and_a_cancelled_one_is_skipped():
    lock = WriteLock()
    order: list[int] = []

    async def writer(n: int, scope: trio.CancelScope | None = None) -> None:
        with scope or trio.CancelScope():
            async with lock:
                order.append(n)
                await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        await lock.__aenter__()
        cancelled = trio.CancelScope()
        for n in range(4):
            nursery.start_soon(writer, n, cancelled if n == 1 else None)
            await trio.testing.wait_all_tasks_blocked()
        cancelled.cancel()
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(writer, 9)  # a newcomer queues behind the waiters
        await trio.testing.wait_all_tasks_blocked()
        await lock.__aexit__(None, None, None)
    assert order == [0, 2, 3, 9]
    assert not lock.locked()


async def test_a_free_lock_is_taken_without_a_checkpoint():
    lock = WriteLock()
    with trio.testing.assert_no_checkpoints():
        async with lock:
            assert lock.locked()
    assert not lock.locked()
