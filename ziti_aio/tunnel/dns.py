"""Sans-I/O DNS messages (RFC 1035): parse one-question queries, build answers and errors.

Only what a tunneler's resolver needs: the header, one question, A/AAAA answers pointing
back at the question name. Untrusted input is bounded before any work: at most
:data:`MAX_MESSAGE_BYTES`, labels of at most 63 bytes, names of at most 255, compression
pointers only backwards and at most :data:`MAX_POINTERS` of them (no loops).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

MAX_MESSAGE_BYTES = 4096
MAX_NAME_BYTES = 255
MAX_LABEL_BYTES = 63
MAX_POINTERS = 16
HEADER = struct.Struct("!HHHHHH")

TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1

RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_REFUSED = 5

_QR = 0x8000
_OPCODE = 0x7800
_AA = 0x0400
_RD = 0x0100
_RA = 0x0080


class DnsFormatError(ValueError):
    """The bytes are not a DNS query we can answer; ``query_id`` is set when the header was readable."""

    def __init__(self, message: str, query_id: int | None = None) -> None:
        super().__init__(message)
        self.query_id = query_id


@dataclass(frozen=True)
class Question:
    name: str  # lower case, no trailing dot; "" is the root
    qtype: int
    qclass: int


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    question: Question
    raw_question: bytes  # as received (never compressed), echoed in replies

    @property
    def recursion_desired(self) -> bool:
        return bool(self.flags & _RD)


def read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` (following compression pointers); returns it and the offset after it."""
    labels: list[str] = []
    total, pointers, end = 0, 0, None
    while True:
        if offset >= len(packet):
            raise DnsFormatError("name runs past the end of the message")
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(packet):
                raise DnsFormatError("truncated compression pointer")
            target = ((length & 0x3F) << 8) | packet[offset + 1]
            pointers += 1
            if pointers > MAX_POINTERS or not HEADER.size <= target < offset:
                raise DnsFormatError("compression pointer loops or points outside the records")
            if end is None:
                end = offset + 2
            offset = target
            continue
        if length & 0xC0:
            raise DnsFormatError(f"unsupported label type 0x{length & 0xC0:02x}")
        offset += 1
        if length == 0:
            return ".".join(labels), offset if end is None else end
        total += length + 1
        if total > MAX_NAME_BYTES:
            raise DnsFormatError(f"name longer than {MAX_NAME_BYTES} bytes")
        label = packet[offset:offset + length]
        if len(label) != length:
            raise DnsFormatError("label runs past the end of the message")
        labels.append(label.decode("ascii", errors="replace").lower())
        offset += length


def encode_name(name: str) -> bytes:
    out = bytearray()
    name = name.rstrip(".")
    for label in (name.encode("ascii", errors="replace").split(b".") if name else ()):
        if not 0 < len(label) <= MAX_LABEL_BYTES:
            raise DnsFormatError(f"label {label!r} is empty or longer than {MAX_LABEL_BYTES} bytes")
        out += bytes([len(label)]) + label
    out.append(0)
    if len(out) > MAX_NAME_BYTES:
        raise DnsFormatError(f"name longer than {MAX_NAME_BYTES} bytes")
    return bytes(out)


def query_id(packet: bytes) -> int | None:
    return int.from_bytes(packet[:2], "big") if len(packet) >= 2 else None


def parse_query(packet: bytes) -> Query:
    """A standard query with exactly one question; anything else raises :class:`DnsFormatError`."""
    if len(packet) > MAX_MESSAGE_BYTES:
        raise DnsFormatError(f"message larger than {MAX_MESSAGE_BYTES} bytes", query_id(packet))
    if len(packet) < HEADER.size:
        raise DnsFormatError("message shorter than a DNS header", query_id(packet))
    ident, flags, qdcount, _ancount, _nscount, _arcount = HEADER.unpack_from(packet)
    if flags & _QR:
        raise DnsFormatError("a response, not a query", ident)
    if flags & _OPCODE:
        raise DnsFormatError(f"opcode {(flags & _OPCODE) >> 11} is not a standard query", ident)
    if qdcount != 1:
        raise DnsFormatError(f"{qdcount} questions (exactly one is supported)", ident)
    try:
        name, offset = read_name(packet, HEADER.size)
    except DnsFormatError as exc:
        raise DnsFormatError(str(exc), ident) from None
    if offset + 4 > len(packet):
        raise DnsFormatError("question is truncated", ident)
    qtype, qclass = struct.unpack_from("!HH", packet, offset)
    return Query(ident, flags, Question(name, qtype, qclass), packet[HEADER.size:offset + 4])


def _header(query_id_: int, request_flags: int, rcode: int, answers: int, questions: int) -> bytes:
    flags = _QR | _AA | _RA | (request_flags & _RD) | (rcode & 0xF)
    return HEADER.pack(query_id_, flags, questions, answers, 0, 0)


def build_answer(query: Query, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address], *,
                 ttl_s: int = 60) -> bytes:
    """A NOERROR response carrying the ``addresses`` that fit the question's type (none is NODATA)."""
    q = query.question
    records = [a for a in addresses
               if (a.version == 4 and q.qtype == TYPE_A) or (a.version == 6 and q.qtype == TYPE_AAAA)]
    out = bytearray(_header(query.id, query.flags, RCODE_OK, len(records), 1) + query.raw_question)
    for address in records:
        data = address.packed
        out += struct.pack("!HHHIH", 0xC000 | HEADER.size, q.qtype, CLASS_IN, ttl_s, len(data)) + data
    return bytes(out)


def build_error(query_id_: int, rcode: int, *, query: Query | None = None) -> bytes:
    """An error response (FORMERR, SERVFAIL, NXDOMAIN, REFUSED), echoing the question when known."""
    if query is None:
        return _header(query_id_, 0, rcode, 0, 0)
    return _header(query_id_, query.flags, rcode, 0, 1) + query.raw_question


def build_query(query_id_: int, name: str, qtype: int = TYPE_A) -> bytes:
    """A recursive query for ``name`` (tests and health checks)."""
    return HEADER.pack(query_id_, _RD, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def parse_answer_addresses(packet: bytes) -> tuple[int, list[str]]:
    """``(rcode, [A/AAAA addresses])`` of a response (tests and health checks)."""
    if len(packet) < HEADER.size:
        raise DnsFormatError("response shorter than a DNS header")
    _, flags, qdcount, ancount, _, _ = HEADER.unpack_from(packet)
    offset = HEADER.size
    for _ in range(qdcount):
        offset = read_name(packet, offset)[1] + 4
    found = []
    for _ in range(ancount):
        offset = read_name(packet, offset)[1]
        if offset + 10 > len(packet):
            raise DnsFormatError("answer record is truncated")
        rtype, _, _, length = struct.unpack_from("!HHIH", packet, offset)
        data = packet[offset + 10:offset + 10 + length]
        if rtype in (TYPE_A, TYPE_AAAA) and len(data) in (4, 16):
            found.append(str(ipaddress.ip_address(data)))
        offset += 10 + length
    return flags & 0xF, found
