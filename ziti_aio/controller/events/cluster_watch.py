"""``cluster`` events of a controller that is a cluster member: what changed in its view of the
cluster since the last look (docs/events.md, docs/ha.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.controller.events.types import ClusterEvent

if TYPE_CHECKING:
    from ziti_aio.controller.cluster.replica import Replica
    from ziti_aio.controller.events.bus import EventBus

WATCH_INTERVAL_S = 0.1


def _peer(member: dict[str, Any]) -> dict[str, Any]:
    """A member as OpenZiti's ``ClusterPeer`` (``id``, ``addr``, ``apiAddresses``)."""
    return {"id": member["id"], "addr": member["address"],
            "apiAddresses": {"edge-client": [{"url": f"https://{member['address']}/edge/client/v1", "version": "v1"}]}}


class ClusterWatch:
    """Compares successive looks at a replica and publishes one event per difference."""

    def __init__(self, replica: Replica, events: EventBus) -> None:
        self.replica = replica
        self.events = events
        self._members: dict[str, dict[str, Any]] = {}
        self._connected: set[str] = set()
        self._leader = False
        self._writable = False

    def look(self) -> None:
        """Publish what changed since the previous look (the first look only records)."""
        members = {m["id"]: m for m in self.replica.members()}
        connected = {ident for ident, m in members.items() if m["connected"] and ident != self.replica.node_id}
        leader, writable = self.replica.is_leader, self.replica.writable
        index = self.replica.applied_index
        if self._members:
            if set(members) != set(self._members):
                self._publish("members.changed", index, [_peer(m) for m in members.values()])
            for ident in sorted(connected - self._connected):
                self._publish("peer.connected", index, [_peer(members[ident])])
            for ident in sorted(self._connected - connected):
                gone = members.get(ident) or self._members[ident]
                self._publish("peer.disconnected", index, [_peer(gone)])
            if leader != self._leader:
                self._publish("leadership.gained" if leader else "leadership.lost", index, [])
            if writable != self._writable:
                self._publish("state.rw" if writable else "state.ro", index, [])
        self._members, self._connected, self._leader, self._writable = members, connected, leader, writable

    def _publish(self, event_type: str, index: int, peers: list[dict[str, Any]]) -> None:
        self.events.publish(ClusterEvent(event_type, index, peers, event_src_id=self.replica.node_id))

    async def run(self, interval_s: float = WATCH_INTERVAL_S) -> None:
        while True:
            self.look()
            await trio.sleep(interval_s)
