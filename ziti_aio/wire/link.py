"""Router <-> router link messages (ours, on OpenZiti's channel v2 framing).

A link is a channel between two routers of one network. The dialer's hello body is JSON
``{v, routerId, linkId}`` and the acceptor's successful Result body ``{v, routerId}`` (built
with :mod:`ziti_aio.wire.ctrl`'s JSON helpers). After that, four content types:

- ``PAYLOAD``: one edge Data body of circuit ``CIRCUIT_ID``, with its ``SEQUENCE`` (uint64,
  per circuit and direction, from 0), ``ORIGIN`` (0 = sent by the initiator's end, 1 = by the
  terminator's end), the edge Data flags (``EDGE_FLAGS``, FIN), the edge UUID header if the SDK
  sent one, and ``XG_FLAGS`` (:data:`XG_END` = the sender's SDK closed; body = the reason).
- ``ACK``: the receiving end's ``NEXT_SEQUENCE`` (every payload below it was received) and
  ``BUFFERED`` (bytes received but not yet delivered to its SDK); routed like a payload with the
  ack sender's ``ORIGIN``.
- ``PROBE`` / ``PROBE_REPLY``: heartbeat and latency, ``PROBE_TIME`` (uint64 ns) echoed back.

Error handling: parsers raise :class:`WireProtocolError` on a wrong content type or a missing
or malformed header; the link carrying it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ziti_aio.wire import ctrl
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import Message, expect_content_type
from ziti_aio.wire.headers import (
    EdgeHeader,
    decode_str,
    get_uint32,
    get_uint64,
    put_str,
    put_uint32,
    put_uint64,
    required,
)

MAX_CIRCUIT_ID_BYTES = 64
XG_END = 0x1
INITIATOR = 0
TERMINATOR = 1


class LinkType(IntEnum):
    """Content types of a link channel."""

    PAYLOAD = 21000
    ACK = 21001
    PROBE = 21002
    PROBE_REPLY = 21003


class LinkHeader(IntEnum):
    """Header ids of link messages."""

    CIRCUIT_ID = 2100
    SEQUENCE = 2101
    ORIGIN = 2102
    EDGE_FLAGS = 2103
    XG_FLAGS = 2104
    EDGE_UUID = 2105
    NEXT_SEQUENCE = 2106
    BUFFERED = 2107
    PROBE_TIME = 2108


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload of a circuit, in one direction."""

    circuit_id: str
    origin: int
    seq: int
    body: bytes
    edge_flags: int = 0
    xg_flags: int = 0
    uuid: bytes | None = None

    @property
    def is_end(self) -> bool:
        return bool(self.xg_flags & XG_END)


@dataclass(frozen=True, slots=True)
class Ack:
    """A receiving end's state: everything below ``next_seq`` arrived, ``buffered`` bytes wait for its SDK."""

    circuit_id: str
    origin: int
    next_seq: int
    buffered: int


def hello(router_id: str, link_id: str) -> Message:
    """Dialer -> acceptor hello."""
    return ctrl.hello(routerId=router_id, linkId=link_id)


def parse_hello(msg: Message) -> tuple[str, str]:
    """``(routerId, linkId)`` of a link hello."""
    data = ctrl.parse(msg)
    return ctrl.string(data, "routerId", max_length=64), ctrl.string(data, "linkId", max_length=64)


def hello_reply(request: Message, router_id: str) -> Message:
    """Acceptor -> dialer acceptance naming the acceptor."""
    return ctrl.hello_reply(request, routerId=router_id)


def parse_hello_reply(msg: Message) -> str:
    return ctrl.string(ctrl.parse(msg), "routerId", max_length=64)


def _circuit_headers(circuit_id: str, origin: int) -> dict[int, bytes]:
    raw = put_str(circuit_id)
    if not raw or len(raw) > MAX_CIRCUIT_ID_BYTES:
        raise WireProtocolError(f"circuit id of {len(raw)} bytes")
    return {LinkHeader.CIRCUIT_ID: raw, LinkHeader.ORIGIN: bytes((origin,))}


def _circuit_of(msg: Message) -> tuple[str, int]:
    raw = required(msg.headers.get(LinkHeader.CIRCUIT_ID), LinkHeader.CIRCUIT_ID)
    if not raw or len(raw) > MAX_CIRCUIT_ID_BYTES:
        raise WireProtocolError(f"circuit id of {len(raw)} bytes")
    origin = required(msg.headers.get(LinkHeader.ORIGIN), LinkHeader.ORIGIN)
    if origin not in (b"\x00", b"\x01"):
        raise WireProtocolError(f"bad payload origin {origin.hex()}")
    return decode_str(raw, "circuit id"), origin[0]


def payload(p: Payload) -> Message:
    headers = _circuit_headers(p.circuit_id, p.origin)
    headers[LinkHeader.SEQUENCE] = put_uint64(p.seq)
    if p.edge_flags:
        headers[LinkHeader.EDGE_FLAGS] = put_uint32(p.edge_flags)
    if p.xg_flags:
        headers[LinkHeader.XG_FLAGS] = put_uint32(p.xg_flags)
    if p.uuid is not None:
        headers[LinkHeader.EDGE_UUID] = p.uuid
    return Message(LinkType.PAYLOAD, headers=headers, body=p.body)


def parse_payload(msg: Message) -> Payload:
    expect_content_type(msg, LinkType.PAYLOAD)
    circuit_id, origin = _circuit_of(msg)
    h = msg.headers
    return Payload(circuit_id, origin, required(get_uint64(h, LinkHeader.SEQUENCE), LinkHeader.SEQUENCE), msg.body,
                   get_uint32(h, LinkHeader.EDGE_FLAGS) or 0, get_uint32(h, LinkHeader.XG_FLAGS) or 0,
                   h.get(LinkHeader.EDGE_UUID))


def from_edge_data(msg: Message, circuit_id: str, origin: int, seq: int) -> Payload:
    """The payload carrying an SDK's edge Data ``msg`` (body untouched, flags and UUID kept). The
    body is held until acked, so a view of a read (``FrameDecoder.view_bodies_of``) becomes bytes."""
    expect_content_type(msg, EdgeContentType.DATA)
    return Payload(circuit_id, origin, seq, bytes(msg.body), get_uint32(msg.headers, EdgeHeader.FLAGS) or 0, 0,
                   msg.headers.get(EdgeHeader.UUID))


def to_edge_data(p: Payload, conn_id: int) -> Message:
    """The edge Data the far end's router re-emits for ``p`` to its SDK connection ``conn_id``."""
    headers: dict[int, bytes] = {EdgeHeader.CONN_ID: put_uint32(conn_id)}
    if p.edge_flags:
        headers[EdgeHeader.FLAGS] = put_uint32(p.edge_flags)
    if p.uuid is not None:
        headers[EdgeHeader.UUID] = p.uuid
    return Message(EdgeContentType.DATA, headers=headers, body=p.body)


def ack(a: Ack) -> Message:
    headers = _circuit_headers(a.circuit_id, a.origin)
    headers[LinkHeader.NEXT_SEQUENCE] = put_uint64(a.next_seq)
    headers[LinkHeader.BUFFERED] = put_uint64(a.buffered)
    return Message(LinkType.ACK, headers=headers)


def parse_ack(msg: Message) -> Ack:
    expect_content_type(msg, LinkType.ACK)
    circuit_id, origin = _circuit_of(msg)
    h = msg.headers
    return Ack(circuit_id, origin, required(get_uint64(h, LinkHeader.NEXT_SEQUENCE), LinkHeader.NEXT_SEQUENCE),
               required(get_uint64(h, LinkHeader.BUFFERED), LinkHeader.BUFFERED))


def circuit_of(msg: Message) -> tuple[str, int]:
    """``(circuit id, origin)`` of a payload or ack, without parsing the rest (for transit)."""
    return _circuit_of(msg)


def probe(time_ns: int, *, reply: bool = False) -> Message:
    return Message(LinkType.PROBE_REPLY if reply else LinkType.PROBE,
                   headers={LinkHeader.PROBE_TIME: put_uint64(time_ns)})


def probe_time(msg: Message) -> int:
    return required(get_uint64(msg.headers, LinkHeader.PROBE_TIME), LinkHeader.PROBE_TIME)

