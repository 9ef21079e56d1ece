"""Changing who is in the cluster: add a member by address, remove one by id, move the leadership.

As OpenZiti's ``cluster add``, a member is added by its address: the leader dials it, reads the
member id from its certificate's SPIFFE id and appends the change to the log (pysyncobj commits one
membership change at a time). The new member must already run, knowing the others (its
``[controller] cluster`` table lists them), so it accepts their connections.

A non-voting member (``voter=False``) receives the log and serves the APIs but neither votes nor
counts toward the majority. As in OpenZiti, adding a member that is already there with the other
role changes its role: a non-voter is promoted (removed, then added as a voter), a voter demoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import (
    ChannelClosed,
    ChannelTimeout,
    ConflictError,
    NotFoundError,
    ProtocolError,
    ValidationError,
)
from ziti_aio.controller.cluster.codec import ClusterNode
from ziti_aio.controller.cluster.replica import Submitted
from ziti_aio.controller.cluster.transport import DIAL_TIMEOUT_S, member_id
from ziti_aio.transport.tls import open_tls

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.cluster.replica import Replica

CHANGE_TIMEOUT_S = 10.0


def peer_address(address: str) -> str:
    """``host:port`` from ``tls:host:port`` or ``host:port``; :class:`ValidationError` otherwise."""
    bare = address.removeprefix("tls:")
    host, sep, port = bare.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValidationError(f"{address!r} is not an address (tls:host:port)", field="address", value=address)
    return bare


async def add_member(replica: Replica, address: str, *, voter: bool = True) -> str:
    """Add the controller at ``address`` as a voting member or not; returns its member id. An unreachable
    address, a certificate that names no controller of the trust domain or a member already there in
    that role changes nothing."""
    replica.check_writable()
    bare = peer_address(address)
    host, port = bare.rsplit(":", 1)
    try:
        stream = await open_tls(host.strip("[]"), int(port), replica.transport.client_ssl, timeout_s=DIAL_TIMEOUT_S)
    except (ChannelClosed, ChannelTimeout) as exc:
        raise ValidationError(f"cannot reach a controller at {address}: {exc.message}", field="address",
                              value=address) from None
    try:
        ident = member_id(stream, replica.config.trust_domain)
    except ProtocolError as exc:
        raise ValidationError(f"the server at {address} is no controller: {exc.message}", field="address",
                              value=address) from None
    finally:
        await trio.aclose_forcefully(stream)
    if ident == replica.node_id:
        raise ConflictError(f"controller {ident} is this member, the leader")
    is_voter = any(n.id == ident for n in replica.raft.otherNodes)
    is_non_voter = replica.is_non_voter(ident)
    if (is_voter and voter) or (is_non_voter and not voter):
        raise ConflictError(f"controller {ident} is already a {'' if voter else 'non-'}voting member")
    if is_voter:  # demoted: leaves as a voter, comes back as a non-voter
        await _change(replica, lambda done: replica.raft.removeNodeFromCluster(ClusterNode(ident, bare), done))
    if is_non_voter:
        await replica.change_non_voters("rem", ident, bare).wait(CHANGE_TIMEOUT_S)
    if voter:
        await _change(replica, lambda done: replica.raft.addNodeToCluster(ClusterNode(ident, bare), done))
    else:
        await replica.change_non_voters("add", ident, bare).wait(CHANGE_TIMEOUT_S)
    return ident


async def remove_member(replica: Replica, ident: str) -> None:
    """Remove member ``ident`` (not this controller, the leader: transfer the leadership first)."""
    replica.check_writable()
    if ident == replica.node_id:
        raise ConflictError("the leader cannot remove itself (and the last voting member cannot be removed): "
                            "transfer the leadership first")
    if replica.is_non_voter(ident):
        await replica.change_non_voters("rem", ident, "").wait(CHANGE_TIMEOUT_S)
        return
    node = next((n for n in replica.raft.otherNodes if n.id == ident), None)
    if node is None:
        raise NotFoundError("cluster member", ident)
    await _change(replica, lambda done: replica.raft.removeNodeFromCluster(node, done))


async def transfer_leadership(replica: Replica, ident: str | None) -> None:
    """Ask ``ident`` (or the most caught-up member) to take over, and wait until someone else leads."""
    replica.check_writable()
    node = None
    if ident:
        if replica.is_non_voter(ident):
            raise ValidationError(f"cluster member {ident} is not a voting member", field="newLeaderId", value=ident)
        node = next((n for n in replica.raft.otherNodes if n.id == ident), None)
        if node is None:
            raise NotFoundError("cluster member", ident)
    await _change(replica, lambda done: replica.raft.transferLeadership(node, done))
    with trio.move_on_after(CHANGE_TIMEOUT_S):
        while True:
            if replica.leader_id not in (None, replica.node_id):
                return
            await trio.sleep(0.02)


async def _change(replica: Replica, start: Callable[[Callable[[Any, int], None]], None]) -> None:
    submitted = Submitted()
    start(submitted.finish)
    replica.nudge()
    await submitted.wait(CHANGE_TIMEOUT_S)
