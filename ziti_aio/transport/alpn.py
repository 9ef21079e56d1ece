"""Several protocols on one TLS port, told apart by the protocol negotiated in the handshake (ALPN).

The names are OpenZiti's (docs/ports.md): a router dialing its controller offers :data:`CTRL`, a
router dialing another router's link listener offers :data:`LINK`, newer SDKs offer :data:`EDGE` to
a router's edge listener. libziti 0.29.3 offers nothing, so a connection without ALPN must reach the
edge listener (docs/wire.md §2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from ziti_aio.common.errors import ChannelClosed

if TYPE_CHECKING:
    from collections.abc import Mapping

CTRL = "ziti-ctrl"
LINK = "ziti-link"
EDGE = "ziti-edge"
HTTP = "http/1.1"
RAFT = "ziti-aio-raft"
"""Controllers of one cluster replicating their log (docs/ha.md)."""
NONE = ""
"""The key of the handler for connections that negotiated no protocol."""

H = TypeVar("H")


def offered(handlers: Mapping[str, object]) -> list[str]:
    """What a server with ``handlers`` offers in the handshake (the no-ALPN key is not a protocol)."""
    return [name for name in handlers if name != NONE]


def pick(handlers: Mapping[str, H], negotiated: str | None, *, name: str) -> H:
    """The handler for the ``negotiated`` protocol (``None``: none was); :class:`ChannelClosed` if
    this listener has none for it."""
    handler = handlers.get(negotiated or NONE)
    if handler is None:
        raise ChannelClosed(f"{name}: no handler for ALPN protocol {negotiated or '(none)'!r}")
    return handler
