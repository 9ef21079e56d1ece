"""TlsStream over real loopback sockets: whole buffers per read, clean and ragged closes, refusals."""

import os
import ssl

import pytest
import trio
import trio.lowlevel
import trio.testing

from ziti_aio.transport.serve import serve_tls
from ziti_aio.transport.tls import client_context, open_tls, peer_fingerprint, server_context
from ziti_aio.transport.tls_stream import TlsStream

TLS_RECORD_BYTES = 16 * 1024


def _client(pki, who="client"):
    return client_context(ca=str(pki / "ca.pem"), cert_chain=str(pki / f"{who}.pem"), key=str(pki / f"{who}.key"))


async def _server(pki, nursery, handler) -> int:
    ctx = server_context(cert_chain=str(pki / "server.pem"), key=str(pki / "server.key"), client_ca=str(pki / "ca.pem"))
    _, port = await nursery.start(lambda task_status: serve_tls(handler, ctx, host="127.0.0.1", port=0, name="test",
                                                                task_status=task_status))
    return port


async def test_many_records_arrive_in_one_read_and_a_clean_close_reads_as_eof(pki):
    payload = os.urandom(8 * TLS_RECORD_BYTES)
    got = {}
    all_sent = trio.Event()

    async def handler(stream: TlsStream) -> None:
        got["fp"] = peer_fingerprint(stream)
        await stream.send_all(payload)
        await stream.aclose()  # sends close_notify
        all_sent.set()

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        client = await open_tls("127.0.0.1", port, _client(pki))
        await all_sent.wait()  # every record is in our socket (loopback delivers at send)
        first = await client.receive_some(1 << 20)
        assert len(first) > TLS_RECORD_BYTES  # several records in one call (trio's SSLStream gives one)
        data = first
        while chunk := await client.receive_some(1 << 20):
            data += chunk
        assert data == payload
        assert await client.receive_some() == b""
        await client.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await client.send_all(b"x")
        nursery.cancel_scope.cancel()
    assert got["fp"] is not None


async def test_max_bytes_is_respected_and_the_rest_is_kept(pki):
    async def handler(stream: TlsStream) -> None:
        await stream.send_all(b"abcdefghij")
        await trio.sleep(5)

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        client = await open_tls("127.0.0.1", port, _client(pki))
        parts = [await client.receive_some(3)]
        while sum(map(len, parts)) < 10:
            parts.append(await client.receive_some(3))
        assert all(len(p) <= 3 for p in parts) and b"".join(parts) == b"abcdefghij"
        with pytest.raises(ValueError):
            await client.receive_some(0)
        await client.aclose()
        nursery.cancel_scope.cancel()


async def test_a_cut_without_close_notify_is_broken_not_eof(pki):
    async def handler(stream: TlsStream) -> None:
        await stream.send_all(b"partial")
        await stream.transport_stream.aclose()  # no close_notify: a truncation

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        client = await open_tls("127.0.0.1", port, _client(pki))
        assert await client.receive_some() == b"partial"
        with pytest.raises(trio.BrokenResourceError):
            await client.receive_some()
        await client.aclose()
        nursery.cancel_scope.cancel()


async def test_two_receivers_at_once_is_an_error(pki):
    async def handler(stream: TlsStream) -> None:
        await trio.sleep(5)

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        client = await open_tls("127.0.0.1", port, _client(pki))

        async def first_receiver() -> None:
            with pytest.raises(trio.ClosedResourceError):  # closed under it by another task
                await client.receive_some()

        async with trio.open_nursery() as receivers:
            receivers.start_soon(first_receiver)
            await trio.testing.wait_all_tasks_blocked()  # the first receiver waits in receive_some
            with pytest.raises(trio.BusyResourceError):
                await client.receive_some()
            await client.aclose()
        nursery.cancel_scope.cancel()


async def test_a_foreign_client_certificate_is_refused_with_an_alert(pki):
    handled = []

    async def handler(stream: TlsStream) -> None:
        handled.append(stream)

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        # TLS 1.3: the client finishes its side first and learns of the refusal on its first read.
        try:
            client = await open_tls("127.0.0.1", port, _client(pki, "rogue"))
            await client.receive_some()
        except trio.BrokenResourceError as exc:
            reason = str(exc)
        else:
            pytest.fail("a client certificate from a foreign CA was accepted")
        assert "alert" in reason.lower() or "certificate" in reason.lower()
        nursery.cancel_scope.cancel()
    assert handled == []


async def test_a_server_the_client_does_not_trust_fails_the_handshake(pki):
    async def handler(stream: TlsStream) -> None:
        await trio.sleep(5)

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        distrusting = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # system roots only
        tcp = await trio.open_tcp_stream("127.0.0.1", port)
        stream = TlsStream(tcp, distrusting, server_hostname="127.0.0.1")
        with pytest.raises(trio.BrokenResourceError, match="TLS handshake failed"):
            await stream.do_handshake()
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_streams_reading_at_once_each_get_their_own_bytes(pki):
    """Reads share one scratch buffer per thread: interleaved streams must never see each other's data."""
    streams, messages = 4, 400

    async def handler(stream: TlsStream) -> None:
        tag = await stream.receive_some(1)
        for n in range(messages):
            await stream.send_all(tag * 50 + b"%05d" % n)
            if n % 7 == 0:
                await trio.lowlevel.checkpoint()
        await stream.aclose()

    async def client(port: int, tag: bytes, results: dict) -> None:
        stream = await open_tls("127.0.0.1", port, _client(pki))
        await stream.send_all(tag)
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
        results[tag] = data
        await stream.aclose()

    results: dict[bytes, bytes] = {}
    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        async with trio.open_nursery() as clients:
            for i in range(streams):
                clients.start_soon(client, port, bytes([65 + i]), results)
        nursery.cancel_scope.cancel()
    for tag, data in results.items():
        assert data == b"".join(tag * 50 + b"%05d" % n for n in range(messages))
    assert len(results) == streams


async def test_a_send_cancelled_half_way_leaves_the_stream_whole(pki):
    """A channel is shared by many callers: one caller's cancelled send must not tear a TLS record."""
    big = os.urandom(16 * 1024 * 1024)
    start_reading = trio.Event()
    received = {}
    all_read = trio.Event()

    async def handler(stream: TlsStream) -> None:
        await start_reading.wait()
        data = bytearray()
        while len(data) < len(big) + 5:
            chunk = await stream.receive_some()
            if not chunk:
                break
            data += chunk
        received["data"] = bytes(data)
        all_read.set()

    async with trio.open_nursery() as nursery:
        port = await _server(pki, nursery, handler)
        client = await open_tls("127.0.0.1", port, _client(pki))
        with trio.move_on_after(0.3) as scope:
            await client.send_all(big)  # the server does not read yet: this blocks and is cancelled
        assert scope.cancelled_caught
        start_reading.set()
        await client.send_all(b"after")
        with trio.fail_after(20):
            await all_read.wait()
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert received["data"] == big + b"after"
