"""SIGTERM stops a command even while it is still starting; its own errors come out unwrapped."""

import os
import signal

import pytest
import trio

from ziti_aio.cli.signals import run_until_signalled
from ziti_aio.common.errors import ConfigError


async def test_sigterm_during_start_cancels():
    reached = trio.Event()

    async def stuck_starting():
        reached.set()
        await trio.sleep_forever()

    async def kill_soon():
        await reached.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(kill_soon)
            await run_until_signalled(stuck_starting)


async def test_errors_are_not_wrapped():
    async def broken():
        raise ConfigError("bad config")

    with pytest.raises(ConfigError, match="bad config"):
        await run_until_signalled(broken)


async def test_our_error_comes_out_of_a_group():
    async def broken_in_a_nursery():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            raise ConfigError("controller: cannot listen on 0.0.0.0:1280: Address already in use")

    with pytest.raises(ConfigError, match="cannot listen"):
        await run_until_signalled(broken_in_a_nursery)
