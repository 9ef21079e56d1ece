"""Hello, Result and latency messages against frames built by hand from docs/wire.md §1-§3 (§8)."""

from __future__ import annotations

import dataclasses

import pytest

from ziti_aio.wire.channel import (
    Hello,
    Result,
    hello,
    hello_reply,
    latency_probe,
    latency_reply,
    parse_hello,
    parse_result,
    result,
)
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import FrameDecoder, Message, encode

HELLO = bytes.fromhex("""
03 06 09 0c 00 00 00 00 00 00 00 00 10 00 00 00
10 00 00 00 ea 03 00 00 08 00 00 00 35 64 37 66
32 63 31 65 7a 69 74 69 2d 73 64 6b 2d 63 5b 30
5d 40 68 31
""")
HELLO_REPLY = bytes.fromhex("""
03 06 09 0c 02 00 00 00 ff ff ff ff 15 00 00 00
00 00 00 00 01 00 00 00 04 00 00 00 00 00 00 00
02 00 00 00 01 00 00 00 01
""")
PROBE = bytes.fromhex("""
03 06 09 0c 03 00 00 00 07 00 00 00 10 00 00 00
00 00 00 00 80 00 00 00 08 00 00 00 56 34 12 00
00 00 00 00
""")
PROBE_REPLY = bytes.fromhex("""
03 06 09 0c 02 00 00 00 05 00 00 00 25 00 00 00
00 00 00 00 01 00 00 00 04 00 00 00 07 00 00 00
02 00 00 00 01 00 00 00 01 80 00 00 00 08 00 00
00 56 34 12 00 00 00 00 00
""")


def decode(frame: bytes) -> Message:
    decoder = FrameDecoder()
    decoder.receive_data(frame)
    msg = decoder.next_message()
    assert msg is not None and decoder.buffered_bytes == 0
    return msg


def test_sdk_hello_is_byte_exact():
    assert len(HELLO) == 52
    assert encode(hello("5d7f2c1e", "ziti-sdk-c[0]@h1")) == HELLO
    assert parse_hello(decode(HELLO)) == Hello(token="5d7f2c1e", name="ziti-sdk-c[0]@h1")


def test_minimal_hello_reply_is_byte_exact():
    reply = dataclasses.replace(hello_reply(decode(HELLO)), sequence=-1)
    assert encode(reply) == HELLO_REPLY
    assert parse_result(decode(HELLO_REPLY)) == Result(reply_for=0, success=True, message="", version=None)


def test_hello_reply_carries_the_router_version():
    reply = hello_reply(decode(HELLO), version="v1.0.0|abc|2026-01-01|linux|amd64")
    assert parse_result(decode(encode(reply))).version == "v1.0.0|abc|2026-01-01|linux|amd64"


def test_latency_probe_and_reply_are_byte_exact():
    probe = dataclasses.replace(latency_probe(0x123456), sequence=7)
    assert encode(probe) == PROBE
    reply = dataclasses.replace(latency_reply(decode(PROBE)), sequence=5)
    assert encode(reply) == PROBE_REPLY


def test_result_reflects_request_headers_and_carries_failure_text():
    request = Message(1, 42, {128: b"uuid", 129: b"x", 1000: b"\x01\x00\x00\x00"})
    msg = decode(encode(result(request, success=False, message="nope")))
    assert msg.headers[128] == b"uuid" and msg.headers[129] == b"x" and 1000 not in msg.headers
    assert parse_result(msg) == Result(reply_for=42, success=False, message="nope", version=None)


def test_result_without_success_header_counts_as_failure():
    assert parse_result(Message(2, 0, {1: b"\x00\x00\x00\x00"})).success is False


@pytest.mark.parametrize(
    "msg",
    [
        Message(0, 0, {}, b"ziti-sdk-c[0]@h1"),
        Message(2, 0, {1002: b"tok"}, b""),
        Message(0, 0, {1002: b"\xff"}, b""),
    ],
    ids=["no token", "not a hello", "token not utf-8"],
)
def test_bad_hellos_are_rejected(msg):
    with pytest.raises(WireProtocolError):
        parse_hello(msg)


def test_result_without_reply_for_is_rejected():
    with pytest.raises(WireProtocolError, match="1"):
        parse_result(Message(2, 0, {2: b"\x01"}))


def test_latency_reply_needs_a_latency_probe():
    with pytest.raises(WireProtocolError):
        latency_reply(Message(2, 0))
