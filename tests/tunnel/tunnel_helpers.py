"""Shared pieces of the tunneler tests: echo servers and a TCP client that checks what comes back."""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext

MIB = 1024 * 1024
WAIT_S = 30.0

CSDK_ECHO_HOST = """
    ctx = load()
    srv = ctx.bind(os.environ["SERVICE"])
    srv.listen(16)
    conn, _ = srv.accept()
    while True:
        data = conn.recv(1 << 20)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    conn.close()
    while not os.path.exists(os.environ["DONE_FILE"]):
        time.sleep(0.05)
"""


async def echo_through(port: int, size: int, *, seed: int = 1) -> tuple[int, str, str]:
    """Send ``size`` seeded random bytes to 127.0.0.1:``port`` while reading the echo back.

    Returns ``(bytes echoed, sha256 sent, sha256 received)``; closes once everything came
    back (libziti drops its last buffered bytes if the far end closes first).
    """
    data = random.Random(seed).randbytes(size)
    got = hashlib.sha256()
    total = 0
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(stream.send_all, data)
        while total < size:
            chunk = await stream.receive_some(1 << 20)
            if not chunk:
                break
            got.update(chunk)
            total += len(chunk)
    return total, hashlib.sha256(data).hexdigest(), got.hexdigest()


async def sdk_echo_host(ctx: ZitiContext, service: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Bind ``service`` with the ziti-aio SDK and echo every connection (half-close aware)."""
    listener = await ctx.bind(service)
    task_status.started()
    async with listener, trio.open_nursery() as nursery:
        while True:
            conn = await listener.accept()

            async def echo(conn=conn) -> None:
                async with conn:
                    try:
                        while data := await conn.receive_some(1 << 16):
                            await conn.send_all(data)
                        await conn.send_eof()
                    except trio.BrokenResourceError:
                        pass  # the dialer went away (e.g. a proxy process stopped)

            nursery.start_soon(echo)



async def configured_service(net, name: str, configs: dict[str, dict], *, encrypted: bool = True) -> str:
    """A service with one config per ``{config type: data}``; returns the service id."""
    from ziti_aio.testing.controller import create

    names = []
    for config_type, data in configs.items():
        names.append(f"{name}-{config_type}")
        await create(net.admin, "configs", {"name": names[-1], "configTypeId": config_type, "data": data})
    return await create(net.admin, "services", {"name": name, "encryptionRequired": encrypted, "configs": names})


async def tcp_echo_server(*, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """A plain TCP echo server on 127.0.0.1 (port 0); started with its port."""

    async def echo(stream: trio.SocketStream) -> None:
        async with stream:
            try:
                while data := await stream.receive_some(1 << 16):
                    await stream.send_all(data)
                await stream.send_eof()
            except trio.BrokenResourceError:
                pass

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(echo, listeners)


async def udp_echo_server(*, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """A UDP echo server on 127.0.0.1 (port 0); started with its port."""
    import socket

    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        await sock.bind(("127.0.0.1", 0))
        task_status.started(sock.getsockname()[1])
        while True:
            data, peer = await sock.recvfrom(65535)
            await sock.sendto(data, peer)
