"""What the event tests do to a network: one echo dial through an SDK host."""

from __future__ import annotations

import trio

from ziti_aio.sdk import open_context


async def echo(listener) -> None:
    while True:
        stream = await listener.accept()
        async with stream:
            try:
                while data := await stream.receive_some():
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass  # the dialer closed without a FIN


async def dial_once(net, dialer: str, service: str, *, while_open=None) -> None:
    """Make a host identity bind ``service`` and ``dialer`` (an identity name) dial it once and echo a
    ping; ``while_open`` (async, no arguments) runs while the circuit is up."""
    host = await net.create_identity(f"{service}-host")
    await net.create_service(service)
    await net.allow(host.name, service, "Bind")
    await net.allow(dialer, service, "Dial")
    async with open_context(host.path) as hosting, open_context(net.identities[dialer].path) as dialing, \
            trio.open_nursery() as nursery:
        hosting.use_router_model = dialing.use_router_model = False  # service sessions, whose events are checked
        listener = await hosting.bind(service)
        nursery.start_soon(echo, listener)
        async with await dialing.dial(service) as stream:
            await stream.send_all(b"ping")
            assert await stream.receive_some() == b"ping"
            if while_open is not None:
                await while_open()
        nursery.cancel_scope.cancel()
