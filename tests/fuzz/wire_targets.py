"""Fuzz targets of the sans-I/O wire layer: frames, the channel handshake, edge and control messages, e2e streams.

Each target is a strategy of cases and a ``check_*`` function that feeds one case to the parser and
asserts its contract: only :class:`WireProtocolError` escapes, buffering stays within the limits,
and what was built with our own builders comes back unchanged.
"""

from __future__ import annotations

import contextlib
import json
import struct
from dataclasses import dataclass, fields
from itertools import pairwise, takewhile
from typing import Any

from hypothesis import strategies as st
from nacl import bindings

from ziti_aio.wire import channel, ctrl, edge
from ziti_aio.wire.connection import (
    MAX_HELLO_BODY_BYTES,
    MAX_HELLO_HEADERS_BYTES,
    ChannelConnection,
    ChannelState,
    HelloAccepted,
    HelloReceived,
    HelloRejected,
    MessageReceived,
    ReplyReceived,
)
from ziti_aio.wire.content import ChannelContentType, EdgeContentType
from ziti_aio.wire.e2e import (
    ABYTES,
    HEADER_BYTES,
    MAX_CIPHERTEXT_BYTES,
    MAX_PLAINTEXT_CHUNK_BYTES,
    TAG_FINAL,
    TAG_MESSAGE,
    KeyPair,
    SecretStreamReceiver,
    SecretStreamSender,
    dialer_session_keys,
    host_session_keys,
)
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import (
    HEADER_ENTRY_PREFIX_BYTES,
    INT32_MAX,
    INT32_MIN,
    MAX_BODY_BYTES,
    MAX_HEADERS_BYTES,
    PREFIX_BYTES,
    UINT32_MAX,
    UNKNOWN_VERSION_MAGIC,
    FrameDecoder,
    Message,
    encode,
)
from ziti_aio.wire.headers import ChannelHeader, EdgeHeader, Precedence, put_int32

from .strategies import INTERESTING_UINT32, deeply_nested_json, json_values, mutated_bytes

CONTENT_TYPES = sorted({int(t) for t in (*ChannelContentType, *EdgeContentType, *ctrl.CtrlType)})
HEADER_IDS = sorted({int(h) for h in (*ChannelHeader, *EdgeHeader)})
INT32 = st.integers(INT32_MIN, INT32_MAX)
UINT32 = st.integers(0, UINT32_MAX)
TEXT = st.text(max_size=30)


MESSAGES = st.builds(
    Message,
    st.sampled_from(CONTENT_TYPES) | INT32,
    INT32,
    st.dictionaries(st.sampled_from(HEADER_IDS) | INT32, st.binary(max_size=24), max_size=5),
    st.binary(max_size=200),
)
"""Any message: known or random content types and header ids, random values."""


def _cuts(draw: st.DrawFn, stream: bytes) -> tuple[int, ...]:
    if len(stream) < 2:
        return ()
    return tuple(sorted(draw(st.sets(st.integers(1, len(stream) - 1), max_size=8))))


def _chunks(stream: bytes, cuts: tuple[int, ...]) -> list[bytes]:
    edges = [0, *cuts, len(stream)]
    return [stream[start:end] for start, end in pairwise(edges)]


def _roundtrip(msg: Message) -> Message:
    decoder = FrameDecoder()
    decoder.receive_data(encode(msg))
    decoded = decoder.next_message()
    assert decoded == msg and decoder.buffered_bytes == 0
    return decoded


def _header_block_bytes(msg: Message) -> int:
    return sum(HEADER_ENTRY_PREFIX_BYTES + len(value) for value in msg.headers.values())


# --- frames ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameCase:
    """Frames of ``messages`` as sent, after edits (``stream``), read in pieces ending at ``cuts``."""

    messages: tuple[Message, ...]
    stream: bytes
    cuts: tuple[int, ...]
    max_headers_bytes: int
    max_body_bytes: int


def _edit_frame(draw: st.DrawFn, frame: bytearray) -> None:
    op = draw(st.sampled_from(("headers_len", "body_len", "entry_len", "magic")))
    if op in ("headers_len", "body_len"):
        offset = 12 if op == "headers_len" else 16
        actual = struct.unpack_from("<I", frame, offset)[0]
        near = (max(0, actual - 1), min(UINT32_MAX, actual + 1), MAX_HEADERS_BYTES + 1, MAX_BODY_BYTES + 1)
        struct.pack_into("<I", frame, offset, draw(st.sampled_from(INTERESTING_UINT32 + near)))
    elif op == "entry_len" and len(frame) >= PREFIX_BYTES + HEADER_ENTRY_PREFIX_BYTES:
        struct.pack_into("<i", frame, PREFIX_BYTES + 4, draw(st.sampled_from((-1, INT32_MIN, INT32_MAX, 0, 1 << 16))))
    else:
        frame[:4] = draw(st.sampled_from((UNKNOWN_VERSION_MAGIC, b"\x00\x00\x00\x00", b"GET ")))


LIMITS = st.just((MAX_HEADERS_BYTES, MAX_BODY_BYTES)) | st.tuples(st.integers(0, 160), st.integers(0, 300))


@st.composite
def frame_cases(draw: st.DrawFn) -> FrameCase:
    """Valid frames, some with a length field, header entry or magic rewritten, some byte-mutated;
    tight or default limits."""
    msgs = draw(st.lists(MESSAGES, min_size=1, max_size=5))
    frames = [bytearray(encode(m)) for m in msgs]
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            _edit_frame(draw, draw(st.sampled_from(frames)))
    stream = b"".join(frames)
    if draw(st.integers(0, 3)) == 0:
        stream = draw(mutated_bytes(stream))
    return FrameCase(tuple(msgs), stream, _cuts(draw, stream), *draw(LIMITS))


def check_frames(case: FrameCase) -> None:
    """Only WireProtocolError; a drained decoder holds less than one frame at the limits; what it
    returns re-encodes to exactly the bytes received; unedited frames within the limits round-trip."""
    decoder = FrameDecoder(max_headers_bytes=case.max_headers_bytes, max_body_bytes=case.max_body_bytes)
    bound = PREFIX_BYTES + case.max_headers_bytes + case.max_body_bytes
    decoded: list[Message] = []
    failed = False
    try:
        for chunk in _chunks(case.stream, case.cuts):
            decoder.receive_data(chunk)
            assert decoder.buffered_bytes < bound + len(chunk)
            while (msg := decoder.next_message()) is not None:
                decoded.append(msg)
            assert decoder.buffered_bytes < bound, f"{decoder.buffered_bytes} bytes buffered after draining"
    except WireProtocolError:
        failed = True
    for msg in decoded:
        assert len(msg.body) <= case.max_body_bytes and _header_block_bytes(msg) <= case.max_headers_bytes
    replay = b"".join(encode(m) for m in decoded)
    assert case.stream.startswith(replay), "decoded messages differ from the bytes received"
    if not failed:
        assert len(replay) + decoder.buffered_bytes == len(case.stream)
    if case.stream == b"".join(encode(m) for m in case.messages):

        def fits(msg: Message) -> bool:
            return len(msg.body) <= case.max_body_bytes and _header_block_bytes(msg) <= case.max_headers_bytes

        fitting = list(takewhile(fits, case.messages))
        assert decoded == fitting
        assert failed == (len(fitting) < len(case.messages))


# --- channel handshake -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelCase:
    """One end of a channel: ``initiator`` sends hello(token, name) then ``requests`` requests once open;
    the peer sends ``peer`` (as ``stream`` after edits). ``clean``: stream unedited, first message well formed."""

    initiator: bool
    token: str
    name: str
    requests: int
    peer: tuple[Message, ...]
    stream: bytes
    cuts: tuple[int, ...]
    clean: bool


REPLIES = st.builds(
    lambda ctype, seq, reply_for, body: Message(ctype, seq, {ChannelHeader.REPLY_FOR: put_int32(reply_for)}, body),
    st.sampled_from(CONTENT_TYPES), INT32, st.integers(-1, 4), st.binary(max_size=40),
)
LATER_MESSAGES = st.lists(MESSAGES | REPLIES, max_size=4)
HELLO_NAMES = TEXT | st.integers(MAX_HELLO_BODY_BYTES - 2, MAX_HELLO_BODY_BYTES + 2).map(lambda n: "n" * n)


@st.composite
def channel_cases(draw: st.DrawFn) -> ChannelCase:
    initiator = draw(st.booleans())
    token, name = draw(TEXT), draw(TEXT)
    if initiator:
        built = channel.result(Message(ChannelContentType.HELLO), success=draw(st.booleans()), message=draw(TEXT))
    else:
        built = channel.hello(draw(TEXT), draw(HELLO_NAMES))
    first = built if draw(st.booleans()) else draw(MESSAGES)
    peer = (first, *draw(LATER_MESSAGES))
    sent = b"".join(encode(m) for m in peer)
    stream = draw(mutated_bytes(sent)) if draw(st.integers(0, 2)) == 0 else sent
    clean = stream == sent and first is built
    return ChannelCase(initiator, token, name, draw(st.integers(0, 3)), peer, stream, _cuts(draw, stream), clean)


def _on_event(conn: ChannelConnection, case: ChannelCase, event: Any, outstanding: set[int]) -> None:
    if isinstance(event, HelloReceived):
        assert not case.initiator and conn.state is ChannelState.HELLO_RECEIVED
        msg = event.message
        assert msg.content_type == ChannelContentType.HELLO
        assert len(msg.body) <= MAX_HELLO_BODY_BYTES and _header_block_bytes(msg) <= MAX_HELLO_HEADERS_BYTES
        with contextlib.suppress(WireProtocolError):
            channel.parse_hello(msg)
        conn.accept_hello(channel.hello_reply(msg, version="v"))
    elif isinstance(event, HelloAccepted):
        assert case.initiator and conn.state is ChannelState.OPEN and not outstanding
        with contextlib.suppress(WireProtocolError):
            channel.parse_result(event.reply)
        for _ in range(case.requests):
            request = Message(ctrl.CtrlType.CREATE_CIRCUIT)
            conn.send_request(request, now=0.0, timeout_s=10.0)
            outstanding.add(request.sequence)
    elif isinstance(event, HelloRejected):
        assert case.initiator and conn.state is ChannelState.CLOSED and conn.next_deadline() is None
    elif isinstance(event, ReplyReceived):
        assert conn.state is ChannelState.OPEN and event.request_sequence in outstanding
        outstanding.discard(event.request_sequence)
    else:
        assert isinstance(event, MessageReceived) and conn.state is ChannelState.OPEN


def check_channel(case: ChannelCase) -> None:
    """Only WireProtocolError, and it leaves the connection CLOSED; the acceptor never takes a hello over
    Go's limits; replies resolve only outstanding requests; a clean exchange delivers every message."""
    conn = ChannelConnection(initiator=case.initiator)
    outstanding: set[int] = set()
    if case.initiator:
        conn.send_hello(channel.hello(case.token, case.name), now=0.0, timeout_s=10.0)
    events: list[Any] = []
    failed = False
    try:
        for chunk in _chunks(case.stream, case.cuts):
            conn.receive_data(chunk)
            while (event := conn.next_event()) is not None:
                events.append(event)
                _on_event(conn, case, event, outstanding)
    except WireProtocolError:
        failed = True
        assert conn.state is ChannelState.CLOSED and conn.next_event() is None
    if conn.state is ChannelState.OPEN:
        assert sorted(conn.expire(100.0)) == sorted(outstanding) and conn.next_deadline() is None
    if not case.clean:
        return
    first, later = case.peer[0], list(case.peer[1:])
    if not case.initiator and len(first.body) > MAX_HELLO_BODY_BYTES:
        assert failed and not events
        return
    if isinstance(events[0], HelloRejected):
        assert len(events) == 1 and not failed
        return
    # On an open channel a ReplyFor that is not an int32 closes it.
    delivered = list(takewhile(lambda m: len(m.headers.get(ChannelHeader.REPLY_FOR, b"1234")) == 4, later))
    assert failed == (len(delivered) < len(later))
    assert [e.message if not isinstance(e, HelloAccepted) else e.reply for e in events] == [first, *delivered]


# --- edge and channel messages -----------------------------------------------------------------

KEYS = st.none() | st.binary(min_size=edge.PUBLIC_KEY_BYTES, max_size=edge.PUBLIC_KEY_BYTES)
OPT_TEXT = st.none() | TEXT
OPT_BYTES = st.none() | st.binary(max_size=30)
OPT_INT32 = st.none() | INT32
OPT_UINT32 = st.none() | UINT32
PARSERS = (
    edge.parse_connect, edge.parse_state_connected, edge.parse_state_closed, edge.parse_data, edge.parse_dial,
    edge.parse_dial_success, edge.parse_dial_failed, edge.parse_bind, edge.parse_unbind,
    channel.parse_hello, channel.parse_result,
)  # fmt: skip


EDGE_KINDS = st.sampled_from(("connect", "connected", "closed", "data", "fin", "dial", "dial_success", "dial_failed",
                              "bind", "unbind", "hello", "result", "hello_reply"))
REQUEST_HEADERS = st.dictionaries(st.integers(0, 300), st.binary(max_size=8), max_size=4)
PAYLOADS = st.binary(max_size=100)


@st.composite
def built_edge_messages(draw: st.DrawFn) -> tuple[Message, Any]:
    """A message from one of our builders and what its parser must return."""
    kind = draw(EDGE_KINDS)
    conn_id, token, caller = draw(UINT32), draw(TEXT), draw(TEXT)
    if kind == "connect":
        key, terminator, app = draw(KEYS), draw(OPT_TEXT), draw(OPT_BYTES)
        msg = edge.connect(conn_id, token, caller, public_key=key, terminator_identity=terminator, app_data=app)
        return msg, edge.Connect(conn_id, token, caller, key, terminator, app)
    if kind == "connected":
        reply_for, key, circuit = draw(OPT_INT32), draw(KEYS), draw(OPT_TEXT)
        msg = edge.state_connected(conn_id, reply_for=reply_for, public_key=key, circuit_id=circuit)
        return msg, edge.StateConnected(conn_id, reply_for, key, circuit)
    if kind == "closed":
        reason, reply_for = draw(TEXT), draw(OPT_INT32)
        return edge.state_closed(conn_id, reason, reply_for=reply_for, seq=draw(OPT_UINT32)), edge.StateClosed(
            conn_id, reason, reply_for
        )
    if kind == "data":
        payload, seq, flags = draw(PAYLOADS), draw(OPT_UINT32), draw(UINT32)
        return edge.data(conn_id, payload, seq=seq, flags=flags), edge.Data(conn_id, payload, seq, flags)
    if kind == "fin":
        seq = draw(OPT_UINT32)
        return edge.fin(conn_id, seq=seq), edge.Data(conn_id, b"", seq, 1)
    if kind == "dial":
        key, app, circuit = draw(KEYS), draw(OPT_BYTES), draw(OPT_TEXT)
        msg = edge.dial(conn_id, token, caller, public_key=key, app_data=app, circuit_id=circuit)
        return msg, edge.Dial(conn_id, token, caller, key, app, circuit)
    if kind == "dial_success":
        reply_for, new_id = draw(INT32), draw(UINT32)
        return edge.dial_success(conn_id, reply_for, new_id), edge.DialSuccess(conn_id, reply_for, new_id)
    if kind == "dial_failed":
        reply_for = draw(INT32)
        return edge.dial_failed(conn_id, reply_for, caller), edge.DialFailed(conn_id, reply_for, caller)
    if kind == "bind":
        key, terminator = draw(KEYS), draw(OPT_TEXT)
        cost, precedence = draw(st.integers(0, 0xFFFF)), draw(st.sampled_from(Precedence))
        msg = edge.bind(conn_id, token, caller, public_key=key, terminator_identity=terminator, cost=cost,
                        precedence=precedence)
        return msg, edge.Bind(conn_id, token, caller, key, terminator, cost, precedence)
    if kind == "unbind":
        return edge.unbind(conn_id, token), edge.Unbind(conn_id, token)
    if kind == "hello":
        return channel.hello(token, caller), channel.Hello(token, caller)
    request = Message(draw(st.sampled_from(CONTENT_TYPES)), draw(INT32), draw(REQUEST_HEADERS))
    if kind == "result":
        success = draw(st.booleans())
        return channel.result(request, success=success, message=caller), channel.Result(
            request.sequence, success, caller, None
        )
    version = draw(OPT_TEXT)
    return channel.hello_reply(request, version=version), channel.Result(request.sequence, True, "", version)


BUILT_EDGE_MESSAGES = built_edge_messages()


@st.composite
def wrong_edge_messages(draw: st.DrawFn) -> tuple[Message, None]:
    """A built message with headers dropped, replaced or added, its content type or body changed."""
    msg, _ = draw(BUILT_EDGE_MESSAGES)
    headers, body, ctype = dict(msg.headers), msg.body, msg.content_type
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("drop", "value", "add", "content_type", "body")))
        if op == "drop" and headers:
            del headers[draw(st.sampled_from(sorted(headers)))]
        elif op == "value" and headers:
            key = draw(st.sampled_from(sorted(headers)))
            headers[key] = draw(st.binary(max_size=10) | mutated_bytes(headers[key]))
        elif op == "add":
            headers[draw(st.sampled_from(HEADER_IDS))] = draw(st.binary(max_size=40))
        elif op == "content_type":
            ctype = draw(st.sampled_from(CONTENT_TYPES))
        else:
            body = draw(st.binary(max_size=40) | mutated_bytes(body) | st.just(b"\xff\xfe" + body))
    return Message(ctype, draw(INT32), headers, body), None


def edge_cases() -> st.SearchStrategy[tuple[Message, Any]]:
    return BUILT_EDGE_MESSAGES | wrong_edge_messages()


def _check_parsed(parsed: Any) -> None:
    for f in fields(parsed):
        value = getattr(parsed, f.name)
        if f.name in ("conn_id", "new_conn_id"):
            assert 0 <= value <= UINT32_MAX
        elif f.name == "reply_for":
            assert value is None or INT32_MIN <= value <= INT32_MAX
        elif f.name == "public_key":
            assert value is None or len(value) == edge.PUBLIC_KEY_BYTES
        elif f.name in ("token", "name", "reason", "message"):
            assert isinstance(value, str)
        elif f.name == "cost":
            assert 0 <= value <= 0xFFFF


def check_edge(case: tuple[Message, Any]) -> None:
    """Every parser either refuses with WireProtocolError or returns well-typed values; a built
    message parses back to what was built, through encode and decode."""
    msg, expected = case
    decoded = _roundtrip(msg)
    matched = False
    for parse in PARSERS:
        try:
            parsed = parse(decoded)
        except WireProtocolError:
            continue
        _check_parsed(parsed)
        if expected is not None and type(parsed) is type(expected):
            assert parsed == expected
            matched = True
    assert expected is None or matched, f"{type(expected).__name__} was refused"
    if decoded.content_type == EdgeContentType.DATA:
        relayed = edge.relay_data(decoded, 7)
        assert relayed.body == decoded.body and relayed.headers[EdgeHeader.CONN_ID] == b"\x07\x00\x00\x00"


# --- control messages --------------------------------------------------------------------------


# Keyword names of the builders are not field names.
CTRL_FIELDS = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in ("v", "ok", "ctype", "request")), json_values(), max_size=5
)


@st.composite
def built_ctrl_messages(draw: st.DrawFn) -> tuple[Message, dict[str, Any]]:
    """A control message from our builders and the body ``ctrl.parse`` must return."""
    fields_ = draw(CTRL_FIELDS)
    request = Message(draw(st.sampled_from(list(ctrl.CtrlType))), draw(INT32))
    kind = draw(st.sampled_from(("message", "hello", "hello_reply", "reply", "error_reply")))
    if kind == "message":
        return ctrl.message(draw(st.sampled_from(list(ctrl.CtrlType))), **fields_), {"v": 1, **fields_}
    if kind == "hello":
        return ctrl.hello(**fields_), {"v": 1, **fields_}
    if kind == "hello_reply":
        return ctrl.hello_reply(request, **fields_), {"v": 1, **fields_}
    if kind == "reply":
        return ctrl.reply(request, **fields_), {"v": 1, "ok": True, **fields_}
    code, text = draw(TEXT), draw(TEXT)
    return ctrl.error_reply(request, code, text), {"v": 1, "ok": False, "code": code, "message": text}


BUILT_CTRL_MESSAGES = built_ctrl_messages()
HOSTILE_CTRL_BODIES = st.one_of(
    st.binary(max_size=200),
    deeply_nested_json(),
    json_values(hostile=True).map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(("v", "id", "ok")), json_values(hostile=True)).map(
        lambda v: json.dumps(v).encode()
    ),
)


@st.composite
def hostile_ctrl_messages(draw: st.DrawFn) -> tuple[Message, None]:
    """Control messages whose body is random bytes, mutated JSON, any JSON value, or nested too deeply."""
    valid, _ = draw(BUILT_CTRL_MESSAGES)
    body = draw(HOSTILE_CTRL_BODIES | mutated_bytes(valid.body))
    return Message(valid.content_type, valid.sequence, valid.headers, body), None


def ctrl_cases() -> st.SearchStrategy[tuple[Message, Any]]:
    return BUILT_CTRL_MESSAGES | hostile_ctrl_messages()


def check_ctrl(case: tuple[Message, Any]) -> None:
    """``ctrl.parse`` and the field readers raise only WireProtocolError and return what they promise;
    built messages round-trip."""
    msg, expected = case
    try:
        data = ctrl.parse(_roundtrip(msg))
    except WireProtocolError:
        assert expected is None, "a built control message was refused"
        return
    assert isinstance(data, dict) and data["v"] == ctrl.CTRL_VERSION
    if expected is not None:
        assert data == expected
    for key in [*list(data)[:4], "absent"]:
        for read in (_read_string, _read_integer, _read_string_list):
            with contextlib.suppress(WireProtocolError):
                read(data, key)


def _read_string(data: dict[str, Any], key: str) -> None:
    value = ctrl.string(data, key, max_length=16)
    assert isinstance(value, str) and len(value) <= 16


def _read_integer(data: dict[str, Any], key: str) -> None:
    value = ctrl.integer(data, key, low=-5, high=2**40)
    assert type(value) is int and -5 <= value <= 2**40


def _read_string_list(data: dict[str, Any], key: str) -> None:
    value = ctrl.string_list(data, key, max_items=8)
    assert isinstance(value, list) and len(value) <= 8 and all(isinstance(v, str) for v in value)


# --- end-to-end encryption ---------------------------------------------------------------------

SEEDS = st.binary(min_size=bindings.crypto_kx_SEED_BYTES, max_size=bindings.crypto_kx_SEED_BYTES)
_EDGE_LENGTHS = (0, ABYTES - 1, ABYTES, ABYTES + 1, MAX_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES + 1)


@dataclass(frozen=True)
class E2ECase:
    """A dialer sends ``plaintexts`` (the last one tagged final if ``final``) to a hoster; ``edits``
    change the header and ciphertexts on the way; ``peer_key`` is a random key offered in a kx."""

    dialer_seed: bytes
    host_seed: bytes
    plaintexts: tuple[bytes, ...]
    final: bool
    edits: tuple[tuple[Any, ...], ...]
    peer_key: bytes


@st.composite
def _random_ciphertext(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    return bytes(draw(st.sampled_from(_EDGE_LENGTHS)))


_EDITS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 8), st.integers(0, 2**16), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 8), st.integers(0, 64)),
    st.tuples(st.just("drop"), st.integers(0, 8)),
    st.tuples(st.just("swap"), st.integers(0, 8), st.integers(0, 8)),
    st.tuples(st.just("duplicate"), st.integers(0, 8)),
    st.tuples(st.just("insert"), st.integers(0, 8), _random_ciphertext()),
    st.tuples(st.just("header"), st.binary(max_size=HEADER_BYTES + 2)),
)


PLAINTEXTS = st.lists(st.binary(max_size=200) | st.just(bytes(MAX_PLAINTEXT_CHUNK_BYTES)), max_size=4)
PEER_KEYS = st.binary(max_size=40) | st.sampled_from((bytes(32), b"\x01" + bytes(31), b"\xff" * 32))


@st.composite
def e2e_cases(draw: st.DrawFn) -> E2ECase:
    return E2ECase(
        draw(SEEDS), draw(SEEDS), tuple(draw(PLAINTEXTS)), draw(st.booleans()),
        tuple(draw(st.lists(_EDITS, max_size=3))), draw(PEER_KEYS),
    )  # fmt: skip


def _apply_edits(edits: tuple[tuple[Any, ...], ...], header: bytes, sent: list[bytes]) -> bytes:
    for op, *args in edits:
        if op == "header":
            header = args[0]
            continue
        if not sent and op != "insert":
            continue
        i = args[0] % (len(sent) + (op == "insert"))
        if op == "flip":
            body = bytearray(sent[i])
            if body:
                body[args[1] % len(body)] ^= 1 << args[2]
            sent[i] = bytes(body)
        elif op == "truncate":
            sent[i] = sent[i][: args[1]]
        elif op == "drop":
            del sent[i]
        elif op == "swap":
            j = args[1] % len(sent)
            sent[i], sent[j] = sent[j], sent[i]
        elif op == "duplicate":
            sent.insert(i, sent[i])
        else:
            sent.insert(i, args[1])
    return header


def _key_pair(seed: bytes) -> KeyPair:
    public, secret = bindings.crypto_kx_seed_keypair(seed)
    return KeyPair(public, secret)


def check_e2e(case: E2ECase) -> None:
    """Keys agree; a random peer key fails only with WireProtocolError; the receiver opens exactly the
    ciphertexts that arrive unchanged and in order, and refuses everything from the first edit on."""
    dialer, host = _key_pair(case.dialer_seed), _key_pair(case.host_seed)
    for derive in (dialer_session_keys, host_session_keys):
        with contextlib.suppress(WireProtocolError):
            derive(dialer, case.peer_key)
    dialer_keys, host_keys = dialer_session_keys(dialer, host.public), host_session_keys(host, dialer.public)
    assert (dialer_keys.tx, dialer_keys.rx) == (host_keys.rx, host_keys.tx)
    sender = SecretStreamSender(dialer_keys.tx)
    last = len(case.plaintexts) - 1
    original = [sender.push(p, final=case.final and i == last) for i, p in enumerate(case.plaintexts)]
    sent = list(original)
    header = _apply_edits(case.edits, sender.header(), sent)
    try:
        receiver = SecretStreamReceiver(host_keys.rx, header)
    except WireProtocolError:
        assert len(header) != HEADER_BYTES
        return
    intact = header == sender.header()
    for i, ciphertext in enumerate(sent):
        intact = intact and i < len(original) and ciphertext == original[i]
        try:
            plaintext, tag = receiver.pull(ciphertext)
        except WireProtocolError:
            assert not intact, f"ciphertext {i} was refused though unchanged"
            continue
        assert intact, f"edited ciphertext {i} was accepted"
        assert plaintext == case.plaintexts[i]
        assert tag == (TAG_FINAL if case.final and i == last else TAG_MESSAGE)
