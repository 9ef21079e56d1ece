"""``wait_until``: sync and async predicates, the value returned, a timeout that names what it waited for."""

from __future__ import annotations

import pytest
import trio

from ziti_aio.testing import WaitTimeout, wait_until


async def test_a_sync_predicate_is_polled_until_truthy_and_its_value_returned():
    calls = []

    def third_time() -> str | None:
        calls.append(1)
        return "ready" if len(calls) == 3 else None

    assert await wait_until(third_time, 5, interval_s=0.01) == "ready"
    assert len(calls) == 3


async def test_an_async_predicate_is_awaited():
    flag = trio.Event()

    async def set_later() -> None:
        await trio.sleep(0.05)
        flag.set()

    async def is_set() -> bool:
        await trio.lowlevel.checkpoint()
        return flag.is_set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(set_later)
        assert await wait_until(is_set, 5, interval_s=0.01) is True


async def test_the_timeout_names_what_was_awaited_and_the_last_value():
    with pytest.raises(WaitTimeout, match=r"gave up after 0.1 s waiting for the moon \(last value: \[\]\)"):
        await wait_until(list, 0.1, what="the moon")
    with pytest.raises(TimeoutError, match=r"waiting for lambda: len\(\[1, 2\]\) == 3 \(last value: False\)$"):
        await wait_until(lambda: len([1, 2]) == 3, 0.1)


async def test_a_hanging_async_predicate_still_times_out():
    with pytest.raises(WaitTimeout, match=r"waiting for sleep_forever \(last value: None\)"):
        await wait_until(trio.sleep_forever, 0.1)
