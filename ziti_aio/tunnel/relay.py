"""Carrying bytes between two trio streams both ways, with half-close, until both sides are done.

Used by every tunneler mode: a local TCP (or UDP-as-stream) connection on one side, a
:class:`~ziti_aio.sdk.conn.ZitiStream` on the other. Each direction copies until its source
ends, then half-closes its destination (``send_eof``); a broken or closed stream on either
side ends the whole relay and closes both streams, so nothing is left half-open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

log = logging.getLogger(__name__)

RELAY_CHUNK_BYTES = 256 * 1024
"""Largest read per direction; a ZitiStream sends it as 64 KiB Data messages."""


@dataclass
class RelayStats:
    """Bytes carried each way, for the log line at the end of a relay."""

    sent: int = 0
    received: int = 0


async def _copy(source: trio.abc.ReceiveStream, dest: trio.abc.SendStream, stats: RelayStats, outbound: bool) -> None:
    while True:
        data = await source.receive_some(RELAY_CHUNK_BYTES)
        if not data:
            break
        await dest.send_all(data)
        if outbound:
            stats.sent += len(data)
        else:
            stats.received += len(data)
    if isinstance(dest, trio.abc.HalfCloseableStream):
        await dest.send_eof()
    else:
        await dest.aclose()


async def relay(local: trio.abc.Stream, remote: trio.abc.Stream, *, what: str) -> RelayStats:
    """Copy ``local`` → ``remote`` and back until both directions ended; then close both.

    A failure on either side (reset, cut overlay connection) stops both directions; it is
    logged at INFO with ``what`` (e.g. ``"127.0.0.1:5555 -> echo"``), never raised.
    """
    stats = RelayStats()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_copy, local, remote, stats, True)
            nursery.start_soon(_copy, remote, local, stats, False)
    except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
        log.info("%s: connection ended early: %s", what, group.exceptions[0])
    finally:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(local)
            await remote.aclose()
    log.debug("%s: done, %d bytes sent, %d received", what, stats.sent, stats.received)
    return stats


UDP_IDLE_TIMEOUT_S = 60.0
MAX_DATAGRAM_BYTES = 65535


async def relay_datagrams(overlay: trio.abc.Stream, sock: trio.socket.SocketType, *, what: str,
                          idle_timeout_s: float = UDP_IDLE_TIMEOUT_S) -> None:
    """Carry datagrams between an overlay connection (one Data message each) and a connected UDP socket.

    Ends when the overlay connection ends, or after ``idle_timeout_s`` without traffic either way.
    """
    idle = trio.CancelScope(deadline=trio.current_time() + idle_timeout_s)

    def touch() -> None:
        idle.deadline = trio.current_time() + idle_timeout_s

    async def from_overlay() -> None:
        while data := await overlay.receive_some(MAX_DATAGRAM_BYTES):
            touch()
            await sock.send(data)

    async def to_overlay() -> None:
        while True:
            data = await sock.recv(MAX_DATAGRAM_BYTES)
            touch()
            await overlay.send_all(data)

    try:
        with idle:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(to_overlay)
                await from_overlay()
                nursery.cancel_scope.cancel()
    except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
        log.info("%s: datagram relay ended: %s", what, group.exceptions[0])
    finally:
        sock.close()
        with trio.CancelScope(shield=True):
            await overlay.aclose()
    if idle.cancelled_caught:
        log.debug("%s: idle for %.0f s, closed", what, idle_timeout_s)
