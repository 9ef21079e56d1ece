"""Sans-I/O channel state machine: hello handshake, sequence numbers, reply matching.

Bytes from the peer go in with :meth:`ChannelConnection.receive_data`; events come out of
:meth:`ChannelConnection.next_event`; messages to send go through ``send*`` methods, which
return the bytes to write. Time is never read here: callers pass ``now`` (any monotonic clock,
in seconds) and ask :meth:`ChannelConnection.expire` which requests ran out of time.

The initiator (SDK, or router dialing a controller) sends the hello and waits for a Result;
the acceptor (router's edge listener) gets :class:`HelloReceived`, checks it, and either
answers with :meth:`ChannelConnection.accept_hello` or closes the connection (what the Go
router does, and what makes libziti refresh its API session).

Error contract: a :class:`WireProtocolError` from any method leaves the connection CLOSED;
close the transport. Sending in a state that does not allow it also raises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ziti_aio.wire.content import ChannelContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import INT32_MAX, MAX_BODY_BYTES, MAX_HEADERS_BYTES, FrameDecoder, Message, encode_parts
from ziti_aio.wire.headers import ChannelHeader, get_bool, get_int32

MAX_HELLO_HEADERS_BYTES = 16384
MAX_HELLO_BODY_BYTES = 4192


class ChannelState(Enum):
    """Where a :class:`ChannelConnection` is in its life."""

    IDLE = "idle"  # initiator, hello not sent yet
    AWAITING_HELLO = "awaiting hello"  # acceptor
    HELLO_RECEIVED = "hello received"  # acceptor, waiting for accept_hello()
    AWAITING_HELLO_REPLY = "awaiting hello reply"  # initiator
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class HelloReceived:
    """Acceptor: the peer's hello; answer with ``accept_hello`` or close."""

    message: Message


@dataclass(frozen=True, slots=True)
class HelloAccepted:
    """Initiator: the peer answered the hello with a successful Result; the channel is open."""

    reply: Message


@dataclass(frozen=True, slots=True)
class HelloRejected:
    """Initiator: the peer answered the hello with a failed Result; the channel is closed."""

    reason: str


@dataclass(frozen=True, slots=True)
class ReplyReceived:
    """A message whose ReplyFor names one of our outstanding requests (now resolved)."""

    request_sequence: int
    message: Message


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """Any other message, including late replies to requests that already expired."""

    message: Message


Event = HelloReceived | HelloAccepted | HelloRejected | ReplyReceived | MessageReceived


class ChannelConnection:
    """One channel's protocol state, for either end.

    Sequences start at ``first_sequence`` (libziti: 0 on every connect) and add 1 per message
    sent, replies included, wrapping from int32 max to 0. The acceptor holds the peer to
    Go's hello limits (headers <= 16384, body <= 4192 bytes) until the hello is accepted.
    ``view_bodies_of``: see :class:`~ziti_aio.wire.frame.FrameDecoder` (bodies a relay passes on).
    """

    def __init__(
        self,
        *,
        initiator: bool,
        first_sequence: int = 0,
        max_headers_bytes: int = MAX_HEADERS_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
        view_bodies_of: frozenset[int] = frozenset(),
    ) -> None:
        self.state = ChannelState.IDLE if initiator else ChannelState.AWAITING_HELLO
        self._next_sequence = first_sequence
        self._max_headers_bytes = max_headers_bytes
        self._max_body_bytes = max_body_bytes
        self._decoder = (
            FrameDecoder(max_headers_bytes=max_headers_bytes, max_body_bytes=max_body_bytes,
                         view_bodies_of=view_bodies_of)
            if initiator
            else FrameDecoder(max_headers_bytes=MAX_HELLO_HEADERS_BYTES, max_body_bytes=MAX_HELLO_BODY_BYTES,
                              view_bodies_of=view_bodies_of)
        )
        self._deadlines: dict[int, float] = {}

    def _fail(self, reason: str) -> WireProtocolError:
        self.state = ChannelState.CLOSED
        return WireProtocolError(reason)

    def _require(self, state: ChannelState, action: str) -> None:
        if self.state is not state:
            raise self._fail(f"cannot {action} in state {self.state.value}")

    def _encode(self, msg: Message) -> bytes:
        return b"".join(self._encode_parts(msg))

    def _encode_parts(self, msg: Message) -> tuple[bytes, bytes]:
        msg.sequence = self._next_sequence
        try:
            parts = encode_parts(msg)
        except WireProtocolError:
            self.state = ChannelState.CLOSED
            raise
        self._next_sequence = 0 if self._next_sequence == INT32_MAX else self._next_sequence + 1
        return parts

    # -- sending ---------------------------------------------------------------------------

    def send_hello(self, hello: Message, *, now: float, timeout_s: float) -> bytes:
        """Initiator: encode the hello (assigning ``hello.sequence``) and await its Result."""
        self._require(ChannelState.IDLE, "send a hello")
        if hello.content_type != ChannelContentType.HELLO:
            raise self._fail("the first message must be a hello")
        data = self._encode(hello)
        self._deadlines[hello.sequence] = now + timeout_s
        self.state = ChannelState.AWAITING_HELLO_REPLY
        return data

    def accept_hello(self, reply: Message) -> bytes:
        """Acceptor: encode the successful Result (e.g. ``edge.hello_reply``) and open."""
        self._require(ChannelState.HELLO_RECEIVED, "accept a hello")
        self._decoder.max_headers_bytes = self._max_headers_bytes
        self._decoder.max_body_bytes = self._max_body_bytes
        self.state = ChannelState.OPEN
        return self._encode(reply)

    def send(self, msg: Message) -> bytes:
        """Encode ``msg`` on the open channel, assigning ``msg.sequence``."""
        self._require(ChannelState.OPEN, "send")
        return self._encode(msg)

    def send_parts(self, msg: Message) -> tuple[bytes, bytes]:
        """:meth:`send` as (prefix and header block, body), to join several frames in one copy."""
        self._require(ChannelState.OPEN, "send")
        return self._encode_parts(msg)

    def send_request(self, msg: Message, *, now: float, timeout_s: float) -> bytes:
        """Like :meth:`send`, and expect a reply to ``msg.sequence`` by ``now + timeout_s``."""
        data = self.send(msg)
        self._deadlines[msg.sequence] = now + timeout_s
        return data

    def cancel_request(self, sequence: int) -> None:
        """Stop waiting for a reply to ``sequence``; a reply arriving later is a plain message."""
        self._deadlines.pop(sequence, None)

    # -- time ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest reply deadline, or ``None`` with nothing outstanding."""
        return min(self._deadlines.values(), default=None)

    def expire(self, now: float) -> list[int]:
        """Forget and return the sequences whose deadline is <= ``now``.

        If the hello is among them the handshake failed: close the connection.
        """
        expired = [seq for seq, deadline in self._deadlines.items() if deadline <= now]
        for seq in expired:
            del self._deadlines[seq]
        return expired

    # -- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer."""
        try:
            self._decoder.receive_data(data)
        except WireProtocolError:
            self.state = ChannelState.CLOSED
            raise

    def next_event(self) -> Event | None:
        """Return the next event, or ``None`` when more bytes are needed or it is closed."""
        if self.state is ChannelState.CLOSED:
            return None
        try:
            return self._next_event()
        except WireProtocolError:
            self.state = ChannelState.CLOSED
            raise

    def _next_event(self) -> Event | None:
        msg = self._decoder.next_message()
        if msg is None:
            return None
        if self.state is ChannelState.OPEN:
            reply_for = get_int32(msg.headers, ChannelHeader.REPLY_FOR)
            if reply_for is not None and self._deadlines.pop(reply_for, None) is not None:
                return ReplyReceived(reply_for, msg)
            return MessageReceived(msg)
        if self.state is ChannelState.AWAITING_HELLO:
            if msg.content_type != ChannelContentType.HELLO:
                raise WireProtocolError(f"expected a hello, got content type {msg.content_type}")
            self.state = ChannelState.HELLO_RECEIVED
            return HelloReceived(msg)
        if self.state is ChannelState.AWAITING_HELLO_REPLY:
            return self._hello_reply(msg)
        raise WireProtocolError(f"unexpected message in state {self.state.value}")

    def _hello_reply(self, msg: Message) -> HelloAccepted | HelloRejected:
        # Like libziti: any Result answers the hello, whatever its ReplyFor; no success = rejected.
        if msg.content_type != ChannelContentType.RESULT:
            raise WireProtocolError(f"expected the hello's Result, got content type {msg.content_type}")
        success = get_bool(msg.headers, ChannelHeader.RESULT_SUCCESS)
        self._deadlines.clear()
        if not success:
            self.state = ChannelState.CLOSED
            return HelloRejected(msg.body.decode("utf-8", errors="replace"))
        self.state = ChannelState.OPEN
        return HelloAccepted(msg)
