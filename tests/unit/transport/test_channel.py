"""Channel over real TLS on loopback: hello, request/reply, probes, bad peers."""

import pytest
import trio
import trio.lowlevel

from ziti_aio.common.errors import ChannelClosed, ChannelTimeout
from ziti_aio.transport.channel import accept_channel, connect_channel
from ziti_aio.transport.tls import client_context, open_tls, peer_fingerprint, server_context
from ziti_aio.wire import channel as chmsg
from ziti_aio.wire.content import ChannelContentType
from ziti_aio.wire.frame import Message
from ziti_aio.wire.headers import ChannelHeader, get_int32


async def _ignore(message):
    await trio.lowlevel.checkpoint()


async def _serve(pki, nursery, on_channel):
    ctx = server_context(cert_chain=str(pki / "server.pem"), key=str(pki / "server.key"), client_ca=str(pki / "ca.pem"))

    async def handle(stream):
        async def check(hello):
            if chmsg.parse_hello(hello).token != "good":
                raise ChannelClosed("bad token")
            return chmsg.hello_reply(hello, version="test")
        try:
            ch = await accept_channel(stream, check, name="srv")
        except (ChannelClosed, ChannelTimeout):
            return
        await on_channel(ch, stream)

    listeners = await nursery.start(trio.serve_ssl_over_tcp, handle, 0, ctx)
    return listeners[0].transport_listener.socket.getsockname()[1]


def _client_ctx(pki, who="client"):
    return client_context(ca=str(pki / "ca.pem"), cert_chain=str(pki / f"{who}.pem"), key=str(pki / f"{who}.key"))


async def test_hello_request_reply_and_latency_probe(pki):
    async with trio.open_nursery() as nursery:
        seen = {}

        async def on_channel(ch, stream):
            seen["fp"] = peer_fingerprint(stream)

            async def echo(msg):
                await ch.send(chmsg.result(msg, message="echo:" + msg.body.decode()))
            await ch.run(echo)

        port = await _serve(pki, nursery, on_channel)
        stream = await open_tls("127.0.0.1", port, _client_ctx(pki))
        ch, reply = await connect_channel(stream, chmsg.hello("good", "t"), name="cli")
        assert chmsg.parse_result(reply).version == "test"
        nursery.start_soon(ch.run, _ignore)
        answer = await ch.request(Message(5000, body=b"ping"))
        assert answer.body == b"echo:ping"
        probe = chmsg.latency_probe(1234)
        pong = await ch.request(probe)
        assert pong.content_type == ChannelContentType.RESULT
        assert pong.headers[ChannelHeader.LATENCY_PROBE_TIME] == probe.headers[ChannelHeader.LATENCY_PROBE_TIME]
        assert seen["fp"]
        await ch.aclose()
        nursery.cancel_scope.cancel()


async def test_bad_token_closes_without_reply(pki):
    async with trio.open_nursery() as nursery:
        port = await _serve(pki, nursery, lambda ch, s: ch.run(_ignore))
        stream = await open_tls("127.0.0.1", port, _client_ctx(pki))
        with pytest.raises(ChannelClosed):
            await connect_channel(stream, chmsg.hello("bad", "t"))
        nursery.cancel_scope.cancel()


async def test_untrusted_client_cert_is_refused_in_the_handshake(pki):
    async with trio.open_nursery() as nursery:
        port = await _serve(pki, nursery, lambda ch, s: ch.run(_ignore))
        with pytest.raises((ChannelClosed, ChannelTimeout)):
            stream = await open_tls("127.0.0.1", port, _client_ctx(pki, "rogue"))
            await connect_channel(stream, chmsg.hello("good", "t"), timeout_s=5)
        nursery.cancel_scope.cancel()


async def test_garbage_after_hello_closes_only_that_channel(pki):
    async with trio.open_nursery() as nursery:
        closed = trio.Event()

        async def on_channel(ch, stream):
            await ch.run(_ignore)
            closed.set()

        port = await _serve(pki, nursery, on_channel)
        stream = await open_tls("127.0.0.1", port, _client_ctx(pki))
        _ch, _ = await connect_channel(stream, chmsg.hello("good", "t"))
        await stream.send_all(b"\x00" * 64)
        with trio.fail_after(5):
            await closed.wait()
        # The server still serves others.
        stream2 = await open_tls("127.0.0.1", port, _client_ctx(pki))
        ch2, reply = await connect_channel(stream2, chmsg.hello("good", "t"))
        assert get_int32(reply.headers, ChannelHeader.REPLY_FOR) == 0
        await ch2.aclose()
        nursery.cancel_scope.cancel()


async def test_a_batch_handler_gets_one_reads_messages_together_and_in_order(pki):
    async with trio.open_nursery() as nursery:
        batches: list[list[bytes]] = []
        done = trio.Event()

        async def on_channel(ch, stream):
            async def batch(msgs):
                batches.append([m.body for m in msgs])
                if sum(map(len, batches)) == 20:
                    done.set()
            await ch.run(batch_handler=batch)

        port = await _serve(pki, nursery, on_channel)
        stream = await open_tls("127.0.0.1", port, _client_ctx(pki))
        ch, _ = await connect_channel(stream, chmsg.hello("good", "t"))
        await ch.send_many([Message(5000, body=b"%d" % n) for n in range(10)])  # one write
        for n in range(10, 20):
            await ch.send(Message(5000, body=b"%d" % n))
        with trio.fail_after(5):
            await done.wait()
        assert [body for b in batches for body in b] == [b"%d" % n for n in range(20)]
        assert len(batches[0]) == 10
        with pytest.raises(TypeError):
            await ch.run()
        with pytest.raises(TypeError):
            await ch.run(_ignore, batch_handler=_ignore)
        await ch.aclose()
        nursery.cancel_scope.cancel()
