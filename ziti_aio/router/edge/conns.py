"""What a router tracks per SDK channel: data connections and binds, keyed by the SDK's conn ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trio

    from ziti_aio.router.edge.session import SdkSession
    from ziti_aio.router.xgress.circuit import LocalCircuit
    from ziti_aio.wire.edge import Bind


@dataclass(eq=False)
class EdgeConn:
    """One data connection of an SDK: the dialing end (``Connect``) or a hosted end (``Dial`` answered).

    ``circuit`` is set once the circuit is up; until then Data for it is refused. ``setup`` is
    the cancel scope of a dial still being set up, so a StateClosed from the SDK can abort it.
    """

    sdk: SdkSession
    conn_id: int
    session_id: str
    bind: EdgeBind | None = None
    circuit: LocalCircuit | None = None
    setup: trio.CancelScope | None = None


@dataclass(eq=False)
class EdgeBind:
    """One SDK bind: a terminator on the controller, answered by ``Dial`` to the hosting SDK."""

    sdk: SdkSession
    request: Bind
    session_id: str
    service_id: str
    terminator_id: str
    hosted: set[EdgeConn] = field(default_factory=set)

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
