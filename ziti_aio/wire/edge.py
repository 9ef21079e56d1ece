"""Typed builders and parsers for the edge messages an SDK and an edge router exchange.

Builders return a :class:`Message` with sequence 0 (the channel assigns it when sending).
Parsers check the content type and required headers and return a frozen dataclass. Shapes
follow docs/wire.md §4-§5 (libziti 0.29.3): ConnId and Seq uint32, ReplyFor int32, PublicKey 32
raw bytes, session token in the body of Connect, Bind, Dial and Unbind.

Error handling: parsers raise :class:`WireProtocolError` on a wrong content type, a missing
required header or a malformed value; builders on values the wire cannot carry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import Message, expect_content_type
from ziti_aio.wire.headers import (
    ChannelHeader,
    EdgeFlag,
    EdgeHeader,
    Headers,
    Precedence,
    decode_str,
    get_int32,
    get_low_uint,
    get_str,
    get_uint32,
    put_int32,
    put_str,
    put_uint16,
    put_uint32,
    required,
)

PUBLIC_KEY_BYTES = 32
INVALID_SESSION = "Invalid Session"
"""StateClosed reason libziti treats as "refresh the service session and retry" (docs/wire.md §7 quirk 2)."""
MAX_STRUCTURED_ERROR_BYTES = 8192


class EdgeErrorCode(IntEnum):
    """Why a router refused a Connect or Bind (sdk-golang's ``edge_client.proto`` ``Error``; docs/wire.md §9)."""

    INTERNAL = 1
    INVALID_API_SESSION = 2
    INVALID_SESSION = 3
    WRONG_SESSION_TYPE = 4
    INVALID_EDGE_ROUTER_FOR_SESSION = 5
    INVALID_SERVICE = 6
    TUNNELING_NOT_ENABLED = 7
    INVALID_TERMINATOR = 8
    INVALID_PRECEDENCE = 9
    INVALID_COST = 10
    ENCRYPTION_DATA_MISSING = 11
    INVALID_API_SESSION_TYPE = 12
    INVALID_INSTANCE_ID = 13
    ACCESS_DENIED = 14
    POSTURE_CHECK_FAILED = 15


class RetryHint(IntEnum):
    """What an SDK should do after a refusal: retry as usual, back off, start over (new sessions), or give up."""

    DEFAULT = 0
    TOO_BUSY = 1
    START_OVER = 2
    NOT_RETRIABLE = 3


@dataclass(frozen=True, slots=True)
class EdgeError:
    """The structured error of a refusal: header 1014 carries ``code``, header 1033 the JSON
    ``{message, code, retryHint}`` current SDKs read (sdk-golang ``edge.Error``)."""

    message: str
    code: EdgeErrorCode = EdgeErrorCode.INTERNAL
    retry_hint: RetryHint = RetryHint.DEFAULT

    def apply(self, headers: dict[int, bytes]) -> None:
        body = {"message": self.message, "code": int(self.code), "retryHint": int(self.retry_hint)}
        headers[EdgeHeader.ERROR_CODE] = put_uint32(int(self.code))
        headers[EdgeHeader.STRUCTURED_ERROR] = put_str(json.dumps(body, separators=(",", ":")))


def parse_edge_error(headers: Headers) -> EdgeError | None:
    """The structured error of a message, if it carries one (a malformed one is ignored, as SDKs do)."""
    raw = headers.get(EdgeHeader.STRUCTURED_ERROR)
    if raw is None or len(raw) > MAX_STRUCTURED_ERROR_BYTES:
        return None
    try:
        body = json.loads(raw)
        return EdgeError(str(body["message"]), EdgeErrorCode(body["code"]), RetryHint(body.get("retryHint", 0)))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


MODEL_TOKEN_PREFIX = "ziti-aio-model:"
"""Our SDK's Connect/Bind body instead of a session token, on a channel whose hello carried an OIDC access token
and whose router advertised :data:`~ziti_aio.wire.headers.EdgeHeader.ZITI_AIO_ROUTER_MODEL`: the prefix and the
service id, authorized by the router's own model (docs/router-model.md)."""


def model_token(service_id: str) -> str:
    return MODEL_TOKEN_PREFIX + service_id


def model_service(token: str) -> str | None:
    """The service id of a :func:`model_token`, else ``None`` (a session token)."""
    return token[len(MODEL_TOKEN_PREFIX):] if token.startswith(MODEL_TOKEN_PREFIX) else None


@dataclass(frozen=True, slots=True)
class Connect:
    """SDK -> router dial request (60783)."""

    conn_id: int
    token: str
    caller_id: str | None
    public_key: bytes | None
    terminator_identity: str | None
    app_data: bytes | None


@dataclass(frozen=True, slots=True)
class StateConnected:
    """A connection (or bind) is up (60784); ``public_key`` is the peer's, if encrypted."""

    conn_id: int
    reply_for: int | None
    public_key: bytes | None
    circuit_id: str | None


@dataclass(frozen=True, slots=True)
class StateClosed:
    """A connection, bind or request is over (60785); ``reason`` is prose, ``error`` the structured error
    a router may add."""

    conn_id: int
    reason: str
    reply_for: int | None
    error: EdgeError | None = None


@dataclass(frozen=True, slots=True)
class Data:
    """Payload for a connection (60786); empty with FIN in ``flags`` for a half close."""

    conn_id: int
    payload: bytes
    seq: int | None
    flags: int

    @property
    def is_fin(self) -> bool:
        """True for a half close: no more data from this side."""
        return bool(self.flags & EdgeFlag.FIN)


@dataclass(frozen=True, slots=True)
class Dial:
    """Router -> hoster request for a new connection on bind ``conn_id`` (60787)."""

    conn_id: int
    token: str
    caller_id: str | None
    public_key: bytes | None
    app_data: bytes | None
    circuit_id: str | None


@dataclass(frozen=True, slots=True)
class DialSuccess:
    """Hoster accepted a Dial (60788) as connection ``new_conn_id``."""

    conn_id: int
    reply_for: int
    new_conn_id: int


@dataclass(frozen=True, slots=True)
class DialFailed:
    """Hoster refused a Dial (60789)."""

    conn_id: int
    reply_for: int
    reason: str


@dataclass(frozen=True, slots=True)
class Bind:
    """SDK -> router request to host a service (60790)."""

    conn_id: int
    token: str
    caller_id: str | None
    public_key: bytes | None
    terminator_identity: str | None
    cost: int
    precedence: Precedence


@dataclass(frozen=True, slots=True)
class Unbind:
    """SDK -> router end of hosting, Go SDKs only (60791)."""

    conn_id: int
    token: str


def _conn_id(headers: Headers) -> int:
    return required(get_uint32(headers, EdgeHeader.CONN_ID), EdgeHeader.CONN_ID)


def _reply_for(headers: Headers) -> int:
    return required(get_int32(headers, ChannelHeader.REPLY_FOR), ChannelHeader.REPLY_FOR)


def _public_key(headers: Headers) -> bytes | None:
    return _checked_key(headers.get(EdgeHeader.PUBLIC_KEY))


def _checked_key(key: bytes | None) -> bytes | None:
    if key is not None and len(key) != PUBLIC_KEY_BYTES:
        raise WireProtocolError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(key)}")
    return key


def _conn_headers(conn_id: int, seq: int | None) -> dict[int, bytes]:
    headers = {EdgeHeader.CONN_ID.value: put_uint32(conn_id)}
    if seq is not None:
        headers[EdgeHeader.SEQ] = put_uint32(seq)
    return headers


def _put_optional(headers: dict[int, bytes], key: int, value: bytes | None) -> None:
    if value is not None:
        headers[key] = value


def _text(value: str | None) -> bytes | None:
    return None if value is None else put_str(value)


def connect(
    conn_id: int,
    token: str,
    caller_id: str,
    *,
    public_key: bytes | None = None,
    terminator_identity: str | None = None,
    app_data: bytes | None = None,
) -> Message:
    """SDK -> router dial request; body = the Dial session token, Seq = 0."""
    headers = _conn_headers(conn_id, 0)
    headers[EdgeHeader.CALLER_ID] = put_str(caller_id)
    _put_optional(headers, EdgeHeader.PUBLIC_KEY, _checked_key(public_key))
    _put_optional(headers, EdgeHeader.TERMINATOR_IDENTITY, _text(terminator_identity))
    _put_optional(headers, EdgeHeader.APP_DATA, app_data)
    return Message(EdgeContentType.CONNECT, headers=headers, body=put_str(token))


def parse_connect(msg: Message) -> Connect:
    """Parse a Connect; 1000 is required."""
    expect_content_type(msg, EdgeContentType.CONNECT)
    h = msg.headers
    return Connect(
        conn_id=_conn_id(h),
        token=decode_str(msg.body, "session token"),
        caller_id=get_str(h, EdgeHeader.CALLER_ID),
        public_key=_public_key(h),
        terminator_identity=get_str(h, EdgeHeader.TERMINATOR_IDENTITY),
        app_data=h.get(EdgeHeader.APP_DATA),
    )


def state_connected(
    conn_id: int, *, reply_for: int | None = None, public_key: bytes | None = None, circuit_id: str | None = None
) -> Message:
    """StateConnected; answers to Connect, Bind and DialSuccess must pass ``reply_for``."""
    headers = _conn_headers(conn_id, None)
    _put_optional(headers, ChannelHeader.REPLY_FOR, None if reply_for is None else put_int32(reply_for))
    _put_optional(headers, EdgeHeader.PUBLIC_KEY, _checked_key(public_key))
    _put_optional(headers, EdgeHeader.CIRCUIT_ID, _text(circuit_id))
    return Message(EdgeContentType.STATE_CONNECTED, headers=headers)


def parse_state_connected(msg: Message) -> StateConnected:
    """Parse a StateConnected; 1000 is required."""
    expect_content_type(msg, EdgeContentType.STATE_CONNECTED)
    h = msg.headers
    return StateConnected(
        conn_id=_conn_id(h),
        reply_for=get_int32(h, ChannelHeader.REPLY_FOR),
        public_key=_public_key(h),
        circuit_id=get_str(h, EdgeHeader.CIRCUIT_ID),
    )


def state_closed(conn_id: int, reason: str = "", *, reply_for: int | None = None, seq: int | None = None,
                 error: EdgeError | None = None) -> Message:
    """StateClosed. From a router give a real ``reason``: an empty one means "Invalid Session"
    to libziti (docs/wire.md §7 quirk 2); ``error`` adds the structured error current SDKs read. From an
    SDK the reason is empty and ``seq`` is its edge counter."""
    headers = _conn_headers(conn_id, seq)
    _put_optional(headers, ChannelHeader.REPLY_FOR, None if reply_for is None else put_int32(reply_for))
    if error is not None:
        error.apply(headers)
    return Message(EdgeContentType.STATE_CLOSED, headers=headers, body=put_str(reason))


def parse_state_closed(msg: Message) -> StateClosed:
    """Parse a StateClosed; 1000 is required; the reason is decoded leniently (it is prose)."""
    expect_content_type(msg, EdgeContentType.STATE_CLOSED)
    return StateClosed(
        conn_id=_conn_id(msg.headers),
        reason=msg.body.decode("utf-8", errors="replace"),
        reply_for=get_int32(msg.headers, ChannelHeader.REPLY_FOR),
        error=parse_edge_error(msg.headers),
    )


def data(conn_id: int, payload: bytes, *, seq: int | None = None, flags: int = 0) -> Message:
    """Data for ``conn_id``; the Flags header is written only when ``flags`` is non-zero."""
    headers = _conn_headers(conn_id, seq)
    if flags:
        headers[EdgeHeader.FLAGS] = put_uint32(flags)
    return Message(EdgeContentType.DATA, headers=headers, body=payload)


def fin(conn_id: int, *, seq: int | None = None) -> Message:
    """Half close: Data with an empty body and Flags = FIN (``01 00 00 00``)."""
    return data(conn_id, b"", seq=seq, flags=EdgeFlag.FIN)


def parse_data(msg: Message) -> Data:
    """Parse a Data; 1000 is required."""
    expect_content_type(msg, EdgeContentType.DATA)
    h = msg.headers
    return Data(
        conn_id=_conn_id(h),
        payload=msg.body,
        seq=get_uint32(h, EdgeHeader.SEQ),
        flags=get_uint32(h, EdgeHeader.FLAGS) or 0,
    )


def relay_data(msg: Message, conn_id: int) -> Message:
    """The Data a router forwards for an inbound Data ``msg``: same body, ConnId = the
    receiver's ``conn_id``, Flags (1010) and UUID (128) copied if present, no Seq."""
    expect_content_type(msg, EdgeContentType.DATA)
    headers = _conn_headers(conn_id, None)
    for key in (EdgeHeader.FLAGS, EdgeHeader.UUID):
        _put_optional(headers, key, msg.headers.get(key))
    return Message(EdgeContentType.DATA, headers=headers, body=msg.body)


def dial(
    bind_conn_id: int,
    token: str,
    caller_id: str,
    *,
    public_key: bytes | None = None,
    app_data: bytes | None = None,
    circuit_id: str | None = None,
) -> Message:
    """Router -> hoster Dial on the bind conn id; 1008 is always written (docs/wire.md §7 quirk 1)."""
    headers = _conn_headers(bind_conn_id, None)
    headers[EdgeHeader.CALLER_ID] = put_str(caller_id)
    _put_optional(headers, EdgeHeader.PUBLIC_KEY, _checked_key(public_key))
    _put_optional(headers, EdgeHeader.APP_DATA, app_data)
    _put_optional(headers, EdgeHeader.CIRCUIT_ID, _text(circuit_id))
    return Message(EdgeContentType.DIAL, headers=headers, body=put_str(token))


def parse_dial(msg: Message) -> Dial:
    """Parse a Dial; 1000 is required."""
    expect_content_type(msg, EdgeContentType.DIAL)
    h = msg.headers
    return Dial(
        conn_id=_conn_id(h),
        token=decode_str(msg.body, "session token"),
        caller_id=get_str(h, EdgeHeader.CALLER_ID),
        public_key=_public_key(h),
        app_data=h.get(EdgeHeader.APP_DATA),
        circuit_id=get_str(h, EdgeHeader.CIRCUIT_ID),
    )


def dial_success(bind_conn_id: int, reply_for: int, new_conn_id: int) -> Message:
    """Hoster -> router: 1000 = bind conn id, Seq 0, ReplyFor = the Dial's sequence,
    body = the hoster-chosen new conn id, 4 bytes LE."""
    headers = _conn_headers(bind_conn_id, 0)
    headers[ChannelHeader.REPLY_FOR] = put_int32(reply_for)
    return Message(EdgeContentType.DIAL_SUCCESS, headers=headers, body=put_uint32(new_conn_id))


def parse_dial_success(msg: Message) -> DialSuccess:
    """Parse a DialSuccess; 1000, ReplyFor and a 4-byte body are required."""
    expect_content_type(msg, EdgeContentType.DIAL_SUCCESS)
    if len(msg.body) != 4:
        raise WireProtocolError(f"DialSuccess body must be a 4-byte conn id, got {len(msg.body)} bytes")
    return DialSuccess(
        conn_id=_conn_id(msg.headers),
        reply_for=_reply_for(msg.headers),
        new_conn_id=int.from_bytes(msg.body, "little"),
    )


def dial_failed(bind_conn_id: int, reply_for: int, reason: str) -> Message:
    """Hoster -> router refusal of a Dial; same headers as DialSuccess, body = reason."""
    headers = _conn_headers(bind_conn_id, 0)
    headers[ChannelHeader.REPLY_FOR] = put_int32(reply_for)
    return Message(EdgeContentType.DIAL_FAILED, headers=headers, body=put_str(reason))


def parse_dial_failed(msg: Message) -> DialFailed:
    """Parse a DialFailed; 1000 and ReplyFor are required."""
    expect_content_type(msg, EdgeContentType.DIAL_FAILED)
    return DialFailed(
        conn_id=_conn_id(msg.headers),
        reply_for=_reply_for(msg.headers),
        reason=msg.body.decode("utf-8", errors="replace"),
    )


def bind(
    conn_id: int,
    token: str,
    caller_id: str,
    *,
    public_key: bytes | None = None,
    terminator_identity: str | None = None,
    cost: int = 0,
    precedence: Precedence = Precedence.DEFAULT,
) -> Message:
    """SDK -> router Bind; Seq 0; Cost (uint16) sent if > 0, Precedence (1 byte) if not default."""
    headers = _conn_headers(conn_id, 0)
    headers[EdgeHeader.CALLER_ID] = put_str(caller_id)
    _put_optional(headers, EdgeHeader.PUBLIC_KEY, _checked_key(public_key))
    _put_optional(headers, EdgeHeader.TERMINATOR_IDENTITY, _text(terminator_identity))
    if cost:
        headers[EdgeHeader.COST] = put_uint16(cost)
    if precedence != Precedence.DEFAULT:
        headers[EdgeHeader.PRECEDENCE] = bytes([precedence])
    return Message(EdgeContentType.BIND, headers=headers, body=put_str(token))


def parse_bind(msg: Message) -> Bind:
    """Parse a Bind; 1000 is required. Cost is the low 2 bytes and Precedence the first byte
    of whatever width was sent (libziti: int32); an unknown precedence counts as default, as
    in the Go router."""
    expect_content_type(msg, EdgeContentType.BIND)
    h = msg.headers
    raw = get_low_uint(h, EdgeHeader.PRECEDENCE, 1)
    precedence = Precedence(raw) if raw in (Precedence.REQUIRED, Precedence.FAILED) else Precedence.DEFAULT
    return Bind(
        conn_id=_conn_id(h),
        token=decode_str(msg.body, "session token"),
        caller_id=get_str(h, EdgeHeader.CALLER_ID),
        public_key=_public_key(h),
        terminator_identity=get_str(h, EdgeHeader.TERMINATOR_IDENTITY),
        cost=get_low_uint(h, EdgeHeader.COST, 2) or 0,
        precedence=precedence,
    )


def unbind(conn_id: int, token: str) -> Message:
    """Go-SDK style Unbind (libziti closes a listener with StateClosed instead)."""
    return Message(EdgeContentType.UNBIND, headers=_conn_headers(conn_id, None), body=put_str(token))


def parse_unbind(msg: Message) -> Unbind:
    """Parse an Unbind; 1000 is required."""
    expect_content_type(msg, EdgeContentType.UNBIND)
    return Unbind(conn_id=_conn_id(msg.headers), token=decode_str(msg.body, "session token"))


def update_token(token: str) -> Message:
    """SDK → router UpdateToken (libziti 1.x, after each OIDC refresh): no headers, body = the new access token."""
    return Message(EdgeContentType.UPDATE_TOKEN, body=put_str(token))


def parse_update_token(msg: Message) -> str:
    """The new access token of an UpdateToken."""
    expect_content_type(msg, EdgeContentType.UPDATE_TOKEN)
    return decode_str(msg.body, "access token")


def update_token_reply(request: Message, *, success: bool, reason: str = "") -> Message:
    """Router → SDK UpdateTokenSuccess, or UpdateTokenFailure with the reason in the body."""
    content = EdgeContentType.UPDATE_TOKEN_SUCCESS if success else EdgeContentType.UPDATE_TOKEN_FAILURE
    return Message(content, headers={ChannelHeader.REPLY_FOR.value: put_int32(request.sequence)},
                   body=put_str(reason))
