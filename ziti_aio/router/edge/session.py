"""What a router tracks per SDK channel: the session itself, its data connections and its binds,
keyed by the SDK's conn ids, and what a connection needs of its circuit (:class:`EdgeCircuit`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ziti_aio.common.errors import ChannelError
from ziti_aio.router.fabric.circuits import Circuit

if TYPE_CHECKING:
    import trio

    from ziti_aio.router.edge.auth import ApiSessionClaims
    from ziti_aio.transport.channel import Channel
    from ziti_aio.wire.edge import Bind
    from ziti_aio.wire.frame import Message


class EdgeCircuit(Circuit, Protocol):
    """A :class:`Circuit` as an SDK connection sees it: both ends here (``LocalCircuit``) or this
    end of a circuit across links (``RemoteEnd``)."""

    async def forward(self, conn: EdgeConn, msgs: list[Message]) -> None:
        """Data from ``conn``'s SDK (inline in its reader), toward the other end."""

    async def close(self, reason: str, *, origin: EdgeConn | None = None, notify_ctrl: bool = True) -> None:
        """Close it: StateClosed to every SDK end but ``origin`` (the end that closed); the
        controller is told unless it ordered the close (``notify_ctrl=False``)."""


@dataclass(eq=False)
class EdgeConn:
    """One data connection of an SDK: the dialing end (``Connect``) or a hosted end (``Dial`` answered).

    ``circuit`` is set once the circuit is up; until then Data for it is refused. ``setup`` is
    the cancel scope of a dial still being set up, so a StateClosed from the SDK can abort it.
    """

    sdk: SdkSession
    conn_id: int
    session_id: str
    circuit: EdgeCircuit | None = None
    setup: trio.CancelScope | None = None
    service_id: str = ""
    grant: str = ""  # "Dial" or "Bind" when the router model authorized it (no session), else ""


@dataclass(eq=False)
class EdgeBind:
    """One SDK bind: a terminator on the controller, answered by ``Dial`` to the hosting SDK;
    ``session_id`` is "" when the router model authorized it."""

    sdk: SdkSession
    request: Bind
    session_id: str
    service_id: str
    terminator_id: str

    @property
    def conn_id(self) -> int:
        return self.request.conn_id

    @property
    def public_key(self) -> bytes | None:
        """The host's key for this bind (every connection accepted from it uses it)."""
        return self.request.public_key

    @property
    def token(self) -> str:
        return self.request.token


class SdkSession:
    """State of one SDK channel, for the API session its hello proved; ``serving`` until its
    channel closed. Its messages are handled by :mod:`ziti_aio.router.edge.handlers`."""

    def __init__(self, channel: Channel, claims: ApiSessionClaims, name: str, fingerprint: str | None = None) -> None:
        self.channel = channel
        self.fingerprint = fingerprint  # the TLS client certificate's SHA-1, which token updates must be bound to
        self.api_session_id = claims.api_session_id
        self.identity_id = claims.identity_id
        self.oidc = claims.oidc
        self.name = name
        self.conns: dict[int, EdgeConn] = {}
        self.binds: dict[int, EdgeBind] = {}
        self.serving = True
        self.nursery: trio.Nursery | None = None  # the session's own tasks (Connect, Bind) die with it

    def forget(self, conn: EdgeConn) -> None:
        if self.conns.get(conn.conn_id) is conn:
            del self.conns[conn.conn_id]

    def adopt(self, conn_id: int, b: EdgeBind) -> EdgeConn | None:
        """Register a hosted connection the SDK accepted on ``b``; ``None`` if the id is taken."""
        if conn_id in self.conns or conn_id in self.binds:
            return None
        conn = EdgeConn(self, conn_id, b.session_id, service_id=b.service_id,
                        grant="" if b.session_id else "Bind")
        self.conns[conn_id] = conn
        return conn

    async def send_quietly(self, msg: Message) -> None:
        """Send if the channel is still up; a gone SDK needs no notice."""
        with contextlib.suppress(ChannelError):
            await self.channel.send(msg)
