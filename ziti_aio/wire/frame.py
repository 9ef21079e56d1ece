"""Channel v2 frames: the :class:`Message` model, :func:`encode` and an incremental decoder.

Layout (all integers little-endian)::

    offset  size  field
    0       4     magic 03 06 09 0C
    4       4     content type, int32
    8       4     sequence, int32
    12      4     header block length H, uint32
    16      4     body length B, uint32
    20      H     header entries: id int32, length int32, value; no padding, no count
    20+H    B     body

Every length is checked against the decoder's limits before anything is buffered for it.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from ziti_aio.wire.errors import WireProtocolError

MAGIC = b"\x03\x06\x09\x0c"
UNKNOWN_VERSION_MAGIC = b"\x03\x06\x09\x0a"
PREFIX_BYTES = 20
HEADER_ENTRY_PREFIX_BYTES = 8
MAX_HEADERS_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
SMALL_READ_BYTES = 16 * 1024
VIEW_MIN_BODY_BYTES = 32 * 1024
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1

_PREFIX = struct.Struct("<4siiII")
_ENTRY = struct.Struct("<ii")


@dataclass(slots=True)
class Message:
    """One channel message.

    ``sequence`` is the sender's own counter (assigned when the message is sent);
    ``headers`` maps int32 header ids to raw values; order on the wire is not significant.
    ``body`` is ``bytes``, except from a :class:`FrameDecoder` told to view the bodies of some
    content types: those may be read-only memoryviews of the received bytes (relays only).
    """

    content_type: int
    sequence: int = 0
    headers: dict[int, bytes] = field(default_factory=dict)
    body: bytes = b""


def _check_int32(value: int, what: str) -> None:
    if not INT32_MIN <= value <= INT32_MAX:
        raise WireProtocolError(f"{what} {value} does not fit in an int32")


def encode(msg: Message) -> bytes:
    """Serialize ``msg`` to one v2 frame.

    Error handling: raises :class:`WireProtocolError` if the content type, sequence or a
    header id is not an int32, or a header value or the body is longer than a uint32 allows.
    """
    return b"".join(encode_parts(msg))


def encode_parts(msg: Message) -> tuple[bytes, bytes]:
    """:func:`encode` as (prefix and header block, body), so frames can be joined without copying
    a body twice. Same checks and errors as :func:`encode`."""
    _check_int32(msg.content_type, "content type")
    _check_int32(msg.sequence, "sequence")
    parts: list[bytes] = []
    for header_id, value in msg.headers.items():
        _check_int32(header_id, "header id")
        if len(value) > INT32_MAX:
            raise WireProtocolError(f"header {header_id} value is too long")
        parts.append(_ENTRY.pack(header_id, len(value)))
        parts.append(bytes(value))
    header_block = b"".join(parts)
    if len(msg.body) > UINT32_MAX or len(header_block) > UINT32_MAX:
        raise WireProtocolError("message too long for a v2 frame")
    prefix = _PREFIX.pack(MAGIC, msg.content_type, msg.sequence, len(header_block), len(msg.body))
    return prefix + header_block, msg.body


def expect_content_type(msg: Message, content_type: int) -> None:
    """Raise :class:`WireProtocolError` unless ``msg`` has ``content_type``."""
    if msg.content_type != content_type:
        raise WireProtocolError(f"expected content type {content_type}, got {msg.content_type}")


def decode_headers(block: bytes | memoryview) -> dict[int, bytes]:
    """Parse a header block into ``{id: value}``.

    Error handling: raises :class:`WireProtocolError` on a truncated entry, a negative or
    overlong value length, a duplicate id, or trailing bytes that do not form an entry.
    """
    view = memoryview(block)
    headers: dict[int, bytes] = {}
    offset = 0
    end = len(view)
    while offset < end:
        if end - offset < HEADER_ENTRY_PREFIX_BYTES:
            raise WireProtocolError(f"{end - offset} trailing bytes in the header block")
        header_id, length = _ENTRY.unpack_from(view, offset)
        offset += HEADER_ENTRY_PREFIX_BYTES
        if length < 0 or length > end - offset:
            raise WireProtocolError(f"header {header_id} claims {length} bytes, {end - offset} left")
        if header_id in headers:
            raise WireProtocolError(f"duplicate header {header_id}")
        headers[header_id] = bytes(view[offset : offset + length])
        offset += length
    return headers


class FrameDecoder:
    """Incremental v2 frame decoder: feed bytes with :meth:`receive_data`, take messages
    with :meth:`next_message`.

    Resource handling: memory held is the bytes received and not yet returned (and the used
    part of the oldest read while the rest of it is not: at most one read's worth). A frame's
    claimed header and body lengths are checked against ``max_headers_bytes`` and
    ``max_body_bytes`` as soon as its 20-byte prefix is in, and its header block is parsed as
    soon as that is in, so an oversized or malformed frame fails before its body is buffered.
    Both limits may be changed between messages (e.g. tighter before the hello).

    ``view_bodies_of``: content types whose bodies of at least :data:`VIEW_MIN_BODY_BYTES` are
    returned as memoryviews of the received bytes (read-only) instead of copies, when they lie in
    one read. For a relay that writes them out again at once (a router's edge Data): one copy
    less per frame. A view keeps its whole read (at most a few hundred KiB) alive, so whoever
    keeps such a body must take ``bytes(body)`` first; the size floor bounds that overhead.

    Error handling: :meth:`next_message` raises :class:`WireProtocolError`; after that the
    decoder is broken and raises again on every call. Close the connection.
    """

    def __init__(self, *, max_headers_bytes: int = MAX_HEADERS_BYTES, max_body_bytes: int = MAX_BODY_BYTES,
                 view_bodies_of: frozenset[int] = frozenset()) -> None:
        self.max_headers_bytes = max_headers_bytes
        self.max_body_bytes = max_body_bytes
        self.view_bodies_of = view_bodies_of
        # Large reads are kept as the chunks they came in (no appending into one buffer), so a
        # body is copied once, out of its chunk; ``_offset`` is what is used of the first one.
        # Small reads gather in ``_tail`` first: a peer trickling bytes must not cost an object
        # per byte. The tail joins the chunks only when a complete part needs its bytes.
        self._chunks: deque[bytes] = deque()
        self._tail = bytearray()
        self._offset = 0
        self._available = 0
        self._held = 0  # prefix and header bytes of the frame in progress, already taken
        self._prefix: tuple[int, int, int, int] | None = None
        self._headers: dict[int, bytes] | None = None
        self._error: WireProtocolError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned; non-zero at end of stream means a cut frame."""
        return self._available + self._held

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the peer (``bytes`` are kept as they are, others copied)."""
        if self._error is not None:
            raise self._error
        if len(data) >= SMALL_READ_BYTES:
            self._seal_tail()
            self._chunks.append(data if type(data) is bytes else bytes(data))
        else:
            self._tail += data
        self._available += len(data)

    def _seal_tail(self) -> None:
        if self._tail:
            self._chunks.append(bytes(self._tail))
            self._tail = bytearray()

    def next_message(self) -> Message | None:
        """Return the next complete message, or ``None`` if more bytes are needed."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except WireProtocolError as exc:
            self._error = exc
            self._chunks.clear()
            self._tail = bytearray()
            self._offset = self._available = self._held = 0
            raise

    def _next(self) -> Message | None:
        if self._prefix is None and self._chunks:
            whole = self._whole_frame_in_first_chunk()
            if whole is not None:
                return whole
        if self._prefix is None:
            if self._available < PREFIX_BYTES:
                self._check_magic()
                return None
            self._prefix = self._read_prefix(self._take(PREFIX_BYTES))
            self._held = PREFIX_BYTES
        content_type, sequence, headers_len, body_len = self._prefix
        if self._headers is None:
            if self._available < headers_len:
                return None
            self._headers = decode_headers(self._take(headers_len))
            self._held += headers_len
        if self._available < body_len:
            return None
        if body_len >= VIEW_MIN_BODY_BYTES and content_type in self.view_bodies_of:
            body = self._take(body_len, view=True)
        else:
            body = self._take(body_len)
        msg = Message(content_type, sequence, self._headers, body)
        self._prefix = None
        self._headers = None
        self._held = 0
        return msg

    def _whole_frame_in_first_chunk(self) -> Message | None:
        """The usual case of a large read: the next frame lies whole in the oldest chunk, so it is
        parsed in place (no prefix or header block taken out first). ``None`` leaves everything
        as it was for the general path, which also raises the errors of a bad prefix."""
        first, start = self._chunks[0], self._offset
        left = len(first) - start
        if left < PREFIX_BYTES:
            return None
        magic, content_type, sequence, headers_len, body_len = _PREFIX.unpack_from(first, start)
        if magic != MAGIC or headers_len > self.max_headers_bytes or body_len > self.max_body_bytes \
                or left < PREFIX_BYTES + headers_len + body_len:
            return None
        body_at = start + PREFIX_BYTES + headers_len
        end = body_at + body_len
        headers = decode_headers(memoryview(first)[start + PREFIX_BYTES : body_at]) if headers_len else {}
        if body_len >= VIEW_MIN_BODY_BYTES and content_type in self.view_bodies_of:
            body: bytes = memoryview(first)[body_at:end]  # type: ignore[assignment]
        else:
            body = first[body_at:end]
        self._available -= end - start
        if end == len(first):
            self._chunks.popleft()
            self._offset = 0
        else:
            self._offset = end
        return Message(content_type, sequence, headers, body)

    def _take(self, n: int, *, view: bool = False) -> bytes:
        """Remove and return the next ``n`` received bytes (``n`` <= what is available); with
        ``view``, a memoryview of them if they lie in one chunk (typed as bytes: see ``Message``)."""
        if n == 0:
            return b""
        if n > self._available - len(self._tail):
            self._seal_tail()
        first = self._chunks[0]
        start = self._offset
        left = len(first) - start
        self._available -= n
        if left > n:
            self._offset += n
            if view:
                return memoryview(first)[start : start + n]  # type: ignore[return-value]
            return first[start : start + n]
        if left == n:
            self._chunks.popleft()
            self._offset = 0
            if start and view:
                return memoryview(first)[start:]  # type: ignore[return-value]
            return first[start:] if start else first
        parts = []
        while n:
            chunk = self._chunks[0]
            piece = memoryview(chunk)[self._offset : self._offset + n]
            parts.append(piece)
            n -= len(piece)
            if self._offset + len(piece) == len(chunk):
                self._chunks.popleft()
                self._offset = 0
            else:
                self._offset += len(piece)
        return b"".join(parts)

    def _check_magic(self) -> None:
        self._seal_tail()
        seen, offset = b"", self._offset
        for chunk in self._chunks:
            seen += chunk[offset : offset + len(MAGIC) - len(seen)]
            offset = 0
            if len(seen) == len(MAGIC):
                break
        if not MAGIC.startswith(seen):
            self._raise_bad_magic(seen)

    def _raise_bad_magic(self, seen: bytes) -> None:
        if seen == UNKNOWN_VERSION_MAGIC:
            raise WireProtocolError("peer does not speak channel v2 (unknown-version answer)")
        raise WireProtocolError(f"bad frame magic {seen.hex(' ')}")

    def _read_prefix(self, prefix: bytes) -> tuple[int, int, int, int]:
        magic, content_type, sequence, headers_len, body_len = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            self._raise_bad_magic(magic)
        if headers_len > self.max_headers_bytes:
            raise WireProtocolError(f"header block of {headers_len} bytes exceeds {self.max_headers_bytes}")
        if body_len > self.max_body_bytes:
            raise WireProtocolError(f"body of {body_len} bytes exceeds {self.max_body_bytes}")
        return content_type, sequence, headers_len, body_len
