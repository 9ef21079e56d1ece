"""ziti-aio SDK dialer -> ziti-aio router -> ziti-aio SDK host: echo, half close, abrupt ends, rebinding."""

from __future__ import annotations

import hashlib
import os

import pytest
import trio
from sdk_pairs import host_and_dialer

from ziti_aio.common.errors import ChannelClosed
from ziti_aio.router.router import EdgeRouter, RouterConfig
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until

MIB = 1024 * 1024


async def echo(stream) -> None:
    """Echo until the peer's FIN, then FIN and close."""
    async with stream:
        while data := await stream.receive_some():
            await stream.send_all(data)
        await stream.send_eof()


async def echo_through(stream, payload: bytes) -> bytes:
    """Send ``payload`` and FIN while reading the echo until EOF; returns the SHA-256 of what came back."""
    got = hashlib.sha256()

    async def send() -> None:
        await stream.send_all(payload)
        await stream.send_eof()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        while data := await stream.receive_some():
            got.update(data)
    return got.digest()


async def dial_and_accept(dialer, listener, service: str):
    """Dial and accept concurrently (the Dial waits for the host's accept, as with zitilib)."""
    accepted = []

    async def accept() -> None:
        accepted.append(await listener.accept())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept)
        stream = await dialer.dial(service)
    return stream, accepted[0]


@pytest.mark.parametrize("encrypted", [True, False], ids=["e2e", "plain"])
async def test_echo_16_mib(net, encrypted):
    host_file, dialer_file = await host_and_dialer(net, "echo", encrypted=encrypted)
    payload = os.urandom(16 * MIB)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("echo")
        assert listener.routers == [net.routers[0].info.edge_address]
        async with trio.open_nursery() as nursery:
            async def serve() -> None:
                accepted = await listener.accept()
                assert accepted.encrypted is encrypted and accepted.peer == "dialer"
                await echo(accepted)
            nursery.start_soon(serve)
            with trio.fail_after(120):
                async with await dialer.dial("echo") as stream:
                    assert stream.encrypted is encrypted
                    assert await echo_through(stream, payload) == hashlib.sha256(payload).digest()


async def test_half_close_both_ways(net):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=True)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        stream, accepted = await dial_and_accept(dialer, listener, "svc")
        await stream.send_all(b"question")
        await stream.send_eof()
        await stream.send_eof()
        with pytest.raises(trio.ClosedResourceError):
            await stream.send_all(b"more")
        assert await accepted.receive_some(3) == b"que"
        assert await accepted.receive_some() == b"stion"
        assert await accepted.receive_some() == b""
        assert await accepted.receive_some() == b""
        await accepted.send_all(b"answer after your FIN")
        await accepted.send_eof()
        assert await stream.receive_some() == b"answer after your FIN"
        assert await stream.receive_some() == b""
        await accepted.aclose()
        await stream.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some()


@pytest.mark.parametrize("encrypted", [True, False], ids=["e2e", "plain"])
async def test_queued_messages_come_out_as_one_read_and_the_fin_after_them(net, encrypted):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=encrypted)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        stream, accepted = await dial_and_accept(dialer, listener, "svc")
        parts = [bytes([i]) * 1000 for i in range(5)]
        for part in parts:
            await stream.send_all(part)  # five Data messages
        await stream.send_eof()
        queued = 7 if encrypted else 6  # (the stream header,) five Data and the FIN, all queued at the host
        await wait_until(lambda: accepted._inbound.statistics().current_buffer_used == queued, 10)
        assert await accepted.receive_some(2500) == b"".join(parts)[:2500]
        assert await accepted.receive_some() == b"".join(parts)[2500:]
        assert await accepted.receive_some() == b""
        await accepted.aclose()
        await stream.aclose()


async def test_close_without_fin_after_our_fin_is_still_an_error(net):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=False)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        stream, accepted = await dial_and_accept(dialer, listener, "svc")
        await stream.send_all(b"request")
        await stream.send_eof()
        assert await accepted.receive_some() == b"request"
        assert await accepted.receive_some() == b""
        await accepted.send_all(b"response")
        await accepted.aclose()  # StateClosed, no FIN: what zitilib sends once both sides are done
        assert await stream.receive_some() == b"response"
        with pytest.raises(trio.BrokenResourceError, match="without a FIN"):
            await stream.receive_some()
        await stream.aclose()


@pytest.mark.parametrize("how", ["close-without-fin", "channel-lost"])
async def test_host_vanishing_mid_transfer_is_an_error_for_the_dialer(net, how):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=True)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        stream, accepted = await dial_and_accept(dialer, listener, "svc")
        await accepted.send_all(b"x" * MIB)
        if how == "close-without-fin":
            await accepted.aclose()
        else:
            await accepted.router.aclose()
        received = 0
        with trio.fail_after(30), pytest.raises(trio.BrokenResourceError, match=r"without a FIN|channel"):
            while True:
                data = await stream.receive_some()
                assert data, "a cut stream must not end like a complete one"
                received += len(data)
        assert received <= MIB
        with pytest.raises(trio.BrokenResourceError):
            await stream.receive_some()
        await stream.aclose()


async def test_serve_listeners_and_unbind_on_close(net):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=False)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, echo, [listener])
            results = {}

            async def client(n: int) -> None:
                payload = os.urandom(100_000 + n)
                async with await dialer.dial("svc") as stream:
                    results[n] = await echo_through(stream, payload) == hashlib.sha256(payload).digest()

            async with trio.open_nursery() as clients:
                for n in range(4):
                    clients.start_soon(client, n)
            assert results == {n: True for n in range(4)}
            nursery.cancel_scope.cancel()
        await listener.aclose()

        async def no_terminators() -> bool:
            return not await net.get("terminators")

        await wait_until(no_terminators, 20)
        with pytest.raises(ChannelClosed, match=f"router {net.routers[0].info.edge_address} refused the dial"):
            await dialer.dial("svc")
        with pytest.raises(trio.ClosedResourceError):
            await listener.accept()


async def test_dial_without_host_names_the_router_reason(net):
    _, dialer_file = await host_and_dialer(net, "svc", encrypted=True)
    async with open_context(dialer_file) as dialer:
        with pytest.raises(ChannelClosed, match=r"refused the dial of 'svc': .+"):
            await dialer.dial("svc")


async def test_revoked_dial_session_is_replaced_once(net):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=False)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        dialer.use_router_model = False  # dial with service sessions (docs/router-model.md §5)
        listener = await host.bind("svc")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, echo, [listener])
            async with await dialer.dial("svc") as stream:
                assert await echo_through(stream, b"one") == hashlib.sha256(b"one").digest()
            [cached] = dialer._dial_sessions.values()
            resp = await dialer.client_api._http.delete(f"/sessions/{cached.id}",
                                                        headers={"zt-session": dialer.client_api.token})
            resp.raise_for_status()
            async with await dialer.dial("svc") as stream:
                assert await echo_through(stream, b"two") == hashlib.sha256(b"two").digest()
            assert [s.id for s in dialer._dial_sessions.values()] != [cached.id]
            nursery.cancel_scope.cancel()


async def test_listener_rebinds_after_router_restart(net):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=True)
    running = net.routers[0]
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, echo, [listener])
            running.stop()
            await wait_until(lambda: not listener.routers, 20, what="the listener to lose the stopped router")
            router = EdgeRouter(RouterConfig(home=running.router.config.home, edge_bind_host="127.0.0.1",
                                             edge_port=running.info.edge_port, advertised_host="127.0.0.1"))
            await nursery.start(router.run)
            await wait_until(lambda: listener.routers, 30, what="the listener to rebind")
            with trio.fail_after(30):
                async with await dialer.dial("svc") as stream:
                    assert await echo_through(stream, b"again") == hashlib.sha256(b"again").digest()
            nursery.cancel_scope.cancel()


async def test_disabling_the_dialer_cuts_its_stream_and_its_next_dial(net):
    host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=True)
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        stream, accepted = await dial_and_accept(dialer, listener, "svc")
        await stream.send_all(b"before")
        assert await accepted.receive_some() == b"before"
        resp = await net.admin.post(f"/edge/management/v1/identities/{net.identities['dialer'].id}/disable",
                                    json={"durationMinutes": 0})
        assert resp.status_code == 200, resp.text
        with trio.fail_after(30), pytest.raises(trio.BrokenResourceError):
            await stream.receive_some()
        with trio.fail_after(30), pytest.raises(trio.BrokenResourceError):
            await accepted.receive_some()
        # Its revoked API session: routers refuse its hello (or, logging in anew, the controller its login).
        with trio.fail_after(30), pytest.raises(Exception, match=r"closed during the hello|401|UNAUTHORIZED"):
            await dialer.dial("svc")
