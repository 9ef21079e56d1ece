"""Edge message builders and parsers against frames built by hand from docs/wire.md §1, §4-§5 (§8)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import FrameDecoder, Message, encode
from ziti_aio.wire.headers import EdgeFlag, EdgeHeader, Precedence, put_int32

KEY = bytes(range(32))

CONNECT = bytes.fromhex("""
03 06 09 0c 6f ed 00 00 02 00 00 00 25 00 00 00
04 00 00 00 e8 03 00 00 04 00 00 00 03 00 00 00
e9 03 00 00 04 00 00 00 00 00 00 00 f0 03 00 00
05 00 00 00 61 6c 69 63 65 73 74 6f 6b
""")
STATE_CONNECTED = bytes.fromhex("""
03 06 09 0c 70 ed 00 00 09 00 00 00 18 00 00 00
00 00 00 00 e8 03 00 00 04 00 00 00 03 00 00 00
01 00 00 00 04 00 00 00 02 00 00 00
""")
FIN = bytes.fromhex("""
03 06 09 0c 72 ed 00 00 05 00 00 00 24 00 00 00
00 00 00 00 e8 03 00 00 04 00 00 00 03 00 00 00
e9 03 00 00 04 00 00 00 02 00 00 00 f2 03 00 00
04 00 00 00 01 00 00 00
""")
DIAL_SUCCESS = bytes.fromhex("""
03 06 09 0c 74 ed 00 00 03 00 00 00 24 00 00 00
04 00 00 00 e8 03 00 00 04 00 00 00 00 00 00 00
e9 03 00 00 04 00 00 00 00 00 00 00 01 00 00 00
04 00 00 00 0b 00 00 00 01 00 00 00
""")


def wire(msg: Message, sequence: int = 0) -> bytes:
    return encode(dataclasses.replace(msg, sequence=sequence))


def decode(frame: bytes) -> Message:
    decoder = FrameDecoder()
    decoder.receive_data(frame)
    msg = decoder.next_message()
    assert msg is not None and decoder.buffered_bytes == 0
    return msg


def test_connect_is_byte_exact():
    assert wire(edge.connect(3, "stok", "alice"), 2) == CONNECT
    assert edge.parse_connect(decode(CONNECT)) == edge.Connect(3, "stok", "alice", None, None, None)


def test_state_connected_reply_is_byte_exact():
    assert wire(edge.state_connected(3, reply_for=2), 9) == STATE_CONNECTED
    assert edge.parse_state_connected(decode(STATE_CONNECTED)) == edge.StateConnected(3, 2, None, None)


def test_fin_is_byte_exact():
    assert wire(edge.fin(3, seq=2), 5) == FIN
    parsed = edge.parse_data(decode(FIN))
    assert parsed == edge.Data(conn_id=3, payload=b"", seq=2, flags=EdgeFlag.FIN) and parsed.is_fin


def test_dial_success_is_byte_exact():
    assert wire(edge.dial_success(0, reply_for=11, new_conn_id=1), 3) == DIAL_SUCCESS
    assert edge.parse_dial_success(decode(DIAL_SUCCESS)) == edge.DialSuccess(conn_id=0, reply_for=11, new_conn_id=1)


def test_remaining_content_type_bytes_match_the_reference():
    firsts = [
        (edge.state_closed(1, "x"), "71 ed 00 00"),
        (edge.data(1, b"x"), "72 ed 00 00"),
        (edge.dial(1, "t", "c"), "73 ed 00 00"),
        (edge.dial_failed(1, 2, "r"), "75 ed 00 00"),
        (edge.bind(1, "t", "c"), "76 ed 00 00"),
        (edge.unbind(1, "t"), "77 ed 00 00"),
    ]
    for msg, content in firsts:
        assert wire(msg)[4:8] == bytes.fromhex(content)


def test_encrypted_connect_round_trips_with_all_options():
    msg = edge.connect(7, "tok", "bob", public_key=KEY, terminator_identity="t1", app_data=b'{"dst_port": "80"}')
    assert edge.parse_connect(decode(wire(msg))) == edge.Connect(7, "tok", "bob", KEY, "t1", b'{"dst_port": "80"}')


def test_state_connected_for_an_encrypted_dial_carries_the_host_key():
    msg = edge.state_connected(7, reply_for=4, public_key=KEY, circuit_id="c1")
    parsed = edge.parse_state_connected(decode(wire(msg)))
    assert parsed == edge.StateConnected(7, 4, KEY, "c1")


def test_state_closed_round_trips_from_router_and_from_sdk():
    router = edge.parse_state_closed(decode(wire(edge.state_closed(3, edge.INVALID_SESSION, reply_for=8))))
    assert router == edge.StateClosed(3, "Invalid Session", 8)
    sdk = decode(wire(edge.state_closed(3, seq=4)))
    assert sdk.body == b"" and sdk.headers[EdgeHeader.SEQ] == b"\x04\x00\x00\x00"
    assert edge.parse_state_closed(sdk) == edge.StateClosed(3, "", None)


def test_a_structured_error_rides_headers_1014_and_1033():
    error = edge.EdgeError("terminator t1 failed: refused", edge.EdgeErrorCode.INTERNAL, edge.RetryHint.DEFAULT)
    msg = decode(wire(edge.state_closed(3, error.message, reply_for=8, error=error)))
    assert msg.headers[EdgeHeader.ERROR_CODE] == b"\x01\x00\x00\x00"
    assert json.loads(msg.headers[EdgeHeader.STRUCTURED_ERROR]) == {"message": "terminator t1 failed: refused",
                                                                    "code": 1, "retryHint": 0}
    assert edge.parse_state_closed(msg) == edge.StateClosed(3, error.message, 8, error)


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"code": 1}', b'{"message": "m", "code": 99}',
                                 b'{"message": "m", "code": 3, "retryHint": 7}', b"[" * 5000, b"\xff"])
def test_a_malformed_structured_error_is_ignored(raw):
    msg = edge.state_closed(3, "closed")
    headers = {**msg.headers, EdgeHeader.STRUCTURED_ERROR.value: raw}
    parsed = edge.parse_state_closed(Message(msg.content_type, headers=headers, body=msg.body))
    assert parsed.error is None and parsed.reason == "closed"


def test_data_without_flags_has_no_flags_header():
    msg = decode(wire(edge.data(9, b"payload", seq=1)))
    assert EdgeHeader.FLAGS not in msg.headers
    assert edge.parse_data(msg) == edge.Data(9, b"payload", 1, 0)


def test_relay_keeps_body_flags_and_uuid_and_rewrites_the_conn_id():
    inbound = decode(wire(edge.data(3, b"secret", seq=9, flags=EdgeFlag.FIN | EdgeFlag.STREAM)))
    inbound.headers[EdgeHeader.UUID] = b"trace"
    out = edge.relay_data(inbound, 12)
    assert out.body is inbound.body
    assert out.headers == {1000: b"\x0c\x00\x00\x00", 1010: b"\x09\x00\x00\x00", 128: b"trace"}


def test_dial_always_carries_a_caller_id_even_empty():
    msg = decode(wire(edge.dial(0, "tok", "", public_key=KEY, app_data=b"{}", circuit_id="c9")))
    assert msg.headers[EdgeHeader.CALLER_ID] == b""
    assert edge.parse_dial(msg) == edge.Dial(0, "tok", "", KEY, b"{}", "c9")


def test_dial_failed_round_trips():
    parsed = edge.parse_dial_failed(decode(wire(edge.dial_failed(0, 11, "unexpected dial request"))))
    assert parsed == edge.DialFailed(0, 11, "unexpected dial request")


def test_bind_writes_cost_and_precedence_only_when_set():
    plain = decode(wire(edge.bind(4, "tok", "host")))
    assert EdgeHeader.COST not in plain.headers and EdgeHeader.PRECEDENCE not in plain.headers
    assert edge.parse_bind(plain) == edge.Bind(4, "tok", "host", None, None, 0, Precedence.DEFAULT)
    full = edge.bind(4, "tok", "host", public_key=KEY, terminator_identity="t", cost=300, precedence=Precedence.FAILED)
    assert edge.parse_bind(decode(wire(full))) == edge.Bind(4, "tok", "host", KEY, "t", 300, Precedence.FAILED)


def test_bind_from_libziti_with_int32_cost_and_precedence_parses():
    msg = decode(wire(edge.bind(4, "tok", "host")))
    msg.headers[EdgeHeader.COST] = put_int32(25)
    msg.headers[EdgeHeader.PRECEDENCE] = put_int32(1)
    parsed = edge.parse_bind(msg)
    assert (parsed.cost, parsed.precedence) == (25, Precedence.REQUIRED)


def test_unknown_precedence_counts_as_default_like_the_go_router():
    msg = decode(wire(edge.bind(4, "tok", "host")))
    msg.headers[EdgeHeader.PRECEDENCE] = b"\x07"
    assert edge.parse_bind(msg).precedence is Precedence.DEFAULT


def test_unbind_round_trips():
    assert edge.parse_unbind(decode(wire(edge.unbind(4, "tok")))) == edge.Unbind(4, "tok")


PARSERS = [
    (edge.parse_connect, edge.connect(1, "t", "c")),
    (edge.parse_state_connected, edge.state_connected(1)),
    (edge.parse_state_closed, edge.state_closed(1, "r")),
    (edge.parse_data, edge.data(1, b"d")),
    (edge.parse_dial, edge.dial(1, "t", "c")),
    (edge.parse_dial_success, edge.dial_success(1, 2, 3)),
    (edge.parse_dial_failed, edge.dial_failed(1, 2, "r")),
    (edge.parse_bind, edge.bind(1, "t", "c")),
    (edge.parse_unbind, edge.unbind(1, "t")),
]


@pytest.mark.parametrize(("parse", "msg"), PARSERS, ids=[p.__name__ for p, _ in PARSERS])
def test_every_parser_requires_the_conn_id(parse, msg):
    del msg.headers[EdgeHeader.CONN_ID]
    with pytest.raises(WireProtocolError, match="1000"):
        parse(msg)


@pytest.mark.parametrize(("parse", "msg"), PARSERS, ids=[p.__name__ for p, _ in PARSERS])
def test_every_parser_checks_the_content_type(parse, msg):
    msg.content_type = EdgeContentType.PROBE
    with pytest.raises(WireProtocolError, match="content type"):
        parse(msg)


def test_dial_replies_require_reply_for_and_a_four_byte_conn_id():
    no_reply_for = edge.dial_success(0, 11, 1)
    del no_reply_for.headers[1]
    with pytest.raises(WireProtocolError):
        edge.parse_dial_success(no_reply_for)
    with pytest.raises(WireProtocolError, match="4-byte"):
        edge.parse_dial_success(dataclasses.replace(edge.dial_success(0, 11, 1), body=b"\x01\x00"))


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33)])
def test_public_keys_must_be_32_bytes(key):
    msg = edge.connect(1, "t", "c")
    msg.headers[EdgeHeader.PUBLIC_KEY] = key
    with pytest.raises(WireProtocolError, match="32"):
        edge.parse_connect(msg)


def test_conn_ids_must_be_four_bytes():
    msg = edge.data(1, b"")
    msg.headers[EdgeHeader.CONN_ID] = b"\x01"
    with pytest.raises(WireProtocolError):
        edge.parse_data(msg)


def test_builders_refuse_keys_that_are_not_32_bytes():
    with pytest.raises(WireProtocolError):
        edge.bind(1, "t", "c", public_key=bytes(16))
