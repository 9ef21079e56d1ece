"""End-to-end flow control of a multi-hop circuit, pure: send and receive windows, no I/O.

Each end numbers the payloads it sends (0, 1, ...) and keeps them until the other end's ack
says they arrived. The other end acks ``next_seq`` (everything below it arrived) and how many
bytes it holds for its SDK. The sender keeps ``unacked + peer_buffered`` under the window, so
a slow reader stops the sender, and memory at both ends stays under a window per direction.
The receiver accepts only the next payload in sequence: duplicates (a retransmission after a
path change) and anything past a gap are dropped, and the sender resends what is unacked.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ziti_aio.wire.link import Payload

WINDOW_BYTES = 4 * 1024 * 1024
SLACK_BYTES = 64 * 1024


class SendWindow:
    """Payloads this end sent and the other end has not acknowledged."""

    def __init__(self, *, window_bytes: int = WINDOW_BYTES, peer_ready: bool = True) -> None:
        self.window_bytes = window_bytes
        self.peer_ready = peer_ready
        self.next_seq = 0
        self.acked_seq = 0
        self.unacked: deque[Payload] = deque()
        self.unacked_bytes = 0
        self.peer_buffered = 0

    def can_send(self) -> bool:
        """Whether one more payload may go out now."""
        return self.peer_ready and self.unacked_bytes + self.peer_buffered < self.window_bytes

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def sent(self, payload: Payload) -> None:
        """Remember ``payload`` (numbered by :meth:`take_seq`) until it is acknowledged."""
        self.unacked.append(payload)
        self.unacked_bytes += len(payload.body)

    def on_ack(self, next_seq: int, buffered: int) -> bool:
        """Apply an ack; ``True`` when it acknowledged something new. Stale acks are ignored."""
        if next_seq < self.acked_seq or next_seq > self.next_seq:
            return False
        self.peer_ready = True
        progress = next_seq > self.acked_seq
        self.acked_seq = next_seq
        self.peer_buffered = buffered
        while self.unacked and self.unacked[0].seq < next_seq:
            self.unacked_bytes -= len(self.unacked.popleft().body)
        return progress


class ReceiveWindow:
    """Payloads received in order and not yet delivered to this end's SDK."""

    def __init__(self, *, window_bytes: int = WINDOW_BYTES) -> None:
        self.limit = window_bytes + SLACK_BYTES
        self.next_seq = 0
        self.buffered = 0
        self.queue: deque[Payload] = deque()

    def receive(self, payload: Payload) -> bool:
        """Accept the next payload in sequence; ``False`` for a duplicate, a gap or an overflow.

        The sender may overshoot the window by one payload of any size (an SDK's Data can be
        up to a frame long), so only a buffer already past window + slack refuses: a payload
        bigger than the slack must not be refused for ever.
        """
        if payload.seq != self.next_seq or self.buffered >= self.limit:
            return False
        self.next_seq += 1
        self.queue.append(payload)
        self.buffered += len(payload.body)
        return True

    def take(self) -> Payload | None:
        """The next payload to deliver (still counted as buffered until :meth:`delivered`)."""
        return self.queue.popleft() if self.queue else None

    def delivered(self, payload: Payload) -> None:
        self.buffered -= len(payload.body)
