"""The sans-I/O channel: hello handshake both ways, sequences, reply matching, deadlines."""

from __future__ import annotations

import pytest

from ziti_aio.wire import channel, edge
from ziti_aio.wire.connection import (
    MAX_HELLO_BODY_BYTES,
    ChannelConnection,
    ChannelState,
    HelloAccepted,
    HelloReceived,
    HelloRejected,
    MessageReceived,
    ReplyReceived,
)
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import INT32_MAX, FrameDecoder, Message, encode

SDK_HELLO = bytes.fromhex(
    "03 06 09 0c 00 00 00 00 00 00 00 00 10 00 00 00 10 00 00 00 ea 03 00 00 08 00 00 00"
    "35 64 37 66 32 63 31 65 7a 69 74 69 2d 73 64 6b 2d 63 5b 30 5d 40 68 31"
)


def decode(data: bytes) -> list[Message]:
    decoder = FrameDecoder()
    decoder.receive_data(data)
    out = []
    while (msg := decoder.next_message()) is not None:
        out.append(msg)
    return out


def opened_pair() -> tuple[ChannelConnection, ChannelConnection]:
    sdk, router = ChannelConnection(initiator=True), ChannelConnection(initiator=False)
    router.receive_data(sdk.send_hello(channel.hello("tok", "sdk"), now=0.0, timeout_s=20.0))
    event = router.next_event()
    assert isinstance(event, HelloReceived)
    sdk.receive_data(router.accept_hello(channel.hello_reply(event.message, version="v1")))
    assert isinstance(sdk.next_event(), HelloAccepted)
    return sdk, router


def test_initiator_sends_libziti_hello_at_sequence_0():
    sdk = ChannelConnection(initiator=True)
    assert sdk.send_hello(channel.hello("5d7f2c1e", "ziti-sdk-c[0]@h1"), now=0.0, timeout_s=20.0) == SDK_HELLO
    assert sdk.state is ChannelState.AWAITING_HELLO_REPLY


def test_acceptor_takes_the_libziti_hello_and_answers_with_a_result_for_it():
    router = ChannelConnection(initiator=False)
    router.receive_data(SDK_HELLO)
    event = router.next_event()
    assert isinstance(event, HelloReceived)
    assert channel.parse_hello(event.message) == channel.Hello("5d7f2c1e", "ziti-sdk-c[0]@h1")
    (reply,) = decode(router.accept_hello(channel.hello_reply(event.message)))
    assert channel.parse_result(reply) == channel.Result(reply_for=0, success=True, message="", version=None)
    assert router.state is ChannelState.OPEN


def test_handshake_opens_both_ends_and_sequences_count_on():
    sdk, router = opened_pair()
    assert sdk.state is router.state is ChannelState.OPEN
    msg = edge.connect(0, "stok", "alice")
    sdk.send(msg)
    assert msg.sequence == 1


def test_any_result_answers_the_hello_like_libziti():
    sdk = ChannelConnection(initiator=True)
    sdk.send_hello(channel.hello("t", "n"), now=0.0, timeout_s=20.0)
    sdk.receive_data(encode(Message(2, 77, {1: b"\x63\x00\x00\x00", 2: b"\x01"})))
    assert isinstance(sdk.next_event(), HelloAccepted)
    assert sdk.next_deadline() is None


@pytest.mark.parametrize("headers", [{2: b"\x00"}, {}], ids=["success 00", "no success header"])
def test_failed_hello_result_is_a_rejection(headers):
    sdk = ChannelConnection(initiator=True)
    sdk.send_hello(channel.hello("t", "n"), now=0.0, timeout_s=20.0)
    sdk.receive_data(encode(Message(2, 0, {1: b"\x00\x00\x00\x00", **headers}, b"bad token")))
    assert sdk.next_event() == HelloRejected("bad token")
    assert sdk.state is ChannelState.CLOSED
    with pytest.raises(WireProtocolError):
        sdk.send(Message(60786))


def test_hello_reply_of_the_wrong_type_is_a_protocol_error():
    sdk = ChannelConnection(initiator=True)
    sdk.send_hello(channel.hello("t", "n"), now=0.0, timeout_s=20.0)
    sdk.receive_data(encode(Message(60786)))
    with pytest.raises(WireProtocolError):
        sdk.next_event()
    assert sdk.state is ChannelState.CLOSED


def test_acceptor_demands_a_hello_first():
    router = ChannelConnection(initiator=False)
    router.receive_data(encode(edge.connect(0, "t", "c")))
    with pytest.raises(WireProtocolError, match="hello"):
        router.next_event()
    assert router.state is ChannelState.CLOSED
    assert router.next_event() is None


def test_acceptor_applies_go_hello_limits_until_accepted():
    router = ChannelConnection(initiator=False)
    router.receive_data(encode(channel.hello("t", "n" * (MAX_HELLO_BODY_BYTES + 1)))[:20])
    with pytest.raises(WireProtocolError, match="body"):
        router.next_event()
    sdk, router = opened_pair()
    router.receive_data(sdk.send(edge.data(1, bytes(64 * 1024))))
    assert isinstance(router.next_event(), MessageReceived)


def test_nothing_may_follow_the_hello_before_it_is_accepted():
    router = ChannelConnection(initiator=False)
    router.receive_data(SDK_HELLO + SDK_HELLO)
    assert isinstance(router.next_event(), HelloReceived)
    with pytest.raises(WireProtocolError):
        router.next_event()


def test_replies_are_matched_to_requests_by_reply_for():
    sdk, router = opened_pair()
    request = edge.connect(0, "stok", "alice")
    router.receive_data(sdk.send_request(request, now=100.0, timeout_s=10.0))
    event = router.next_event()
    assert isinstance(event, MessageReceived) and event.message.sequence == request.sequence
    unrelated = edge.data(5, b"x")
    answer = edge.state_connected(0, reply_for=request.sequence)
    sdk.receive_data(router.send(unrelated) + router.send(answer))
    assert sdk.next_event() == MessageReceived(unrelated)
    assert sdk.next_event() == ReplyReceived(request.sequence, answer)
    assert sdk.next_deadline() is None


def test_expired_requests_are_reported_once_and_late_replies_are_plain_messages():
    sdk, router = opened_pair()
    first, second = edge.bind(0, "a", "h"), edge.bind(1, "b", "h")
    sdk.send_request(first, now=0.0, timeout_s=10.0)
    sdk.send_request(second, now=5.0, timeout_s=10.0)
    assert sdk.next_deadline() == 10.0
    assert sdk.expire(9.9) == []
    assert sdk.expire(10.0) == [first.sequence]
    assert sdk.expire(11.0) == []
    late = edge.state_connected(0, reply_for=first.sequence)
    sdk.receive_data(router.send(late))
    assert sdk.next_event() == MessageReceived(late)
    sdk.cancel_request(second.sequence)
    assert sdk.next_deadline() is None


def test_hello_timeout_is_reported_by_expire():
    sdk = ChannelConnection(initiator=True)
    hello = channel.hello("t", "n")
    sdk.send_hello(hello, now=3.0, timeout_s=20.0)
    assert sdk.expire(23.0) == [hello.sequence]


def test_sequences_wrap_from_int32_max_to_zero():
    sdk = ChannelConnection(initiator=True, first_sequence=INT32_MAX)
    hello = channel.hello("t", "n")
    sdk.send_hello(hello, now=0.0, timeout_s=1.0)
    sdk.receive_data(encode(Message(2, 0, {1: b"\xff\xff\xff\x7f", 2: b"\x01"})))
    sdk.next_event()
    nxt = Message(60786)
    sdk.send(nxt)
    assert (hello.sequence, nxt.sequence) == (INT32_MAX, 0)


def test_sending_out_of_turn_is_refused():
    with pytest.raises(WireProtocolError):
        ChannelConnection(initiator=True).send(Message(60786))
    with pytest.raises(WireProtocolError):
        ChannelConnection(initiator=False).send_hello(channel.hello("t", "n"), now=0.0, timeout_s=1.0)
    with pytest.raises(WireProtocolError):
        ChannelConnection(initiator=True).send_hello(Message(2), now=0.0, timeout_s=1.0)
