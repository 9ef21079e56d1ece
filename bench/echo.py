"""Child process: the echo servers at the far end of every data-plane transfer.

``python -m bench.echo [IDENTITY SERVICE]`` listens on 127.0.0.1 for plain TCP (what ``ssh -L``
forwards to) and, given an identity file and a service, also binds that service with the
ziti-aio SDK. Both echo every byte and half-close after the peer does. Announces ``{"port"}``
once both are accepting; stops when stdin closes.
"""

from __future__ import annotations

import sys

import trio

from bench.common import announce_and_wait
from ziti_aio.sdk import open_context

READ_CHUNK_BYTES = 1 << 16


async def echo(stream: trio.abc.HalfCloseableStream) -> None:
    """Send back everything received; half-close once the peer has."""
    async with stream:
        try:
            while data := await stream.receive_some(READ_CHUNK_BYTES):
                await stream.send_all(data)
            await stream.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return


async def serve(argv: list[str]) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, echo, listeners)
        if argv:
            identity, service = argv
            await nursery.start(_serve_ziti, identity, service)
        await announce_and_wait({"port": port})
        nursery.cancel_scope.cancel()


async def _serve_ziti(identity: str, service: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                      ) -> None:
    async with open_context(identity) as ctx, await ctx.bind(service) as listener:
        task_status.started()
        await trio.serve_listeners(echo, [listener])


if __name__ == "__main__":
    trio.run(serve, sys.argv[1:])
