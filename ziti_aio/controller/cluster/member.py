"""A cluster member: a model and its store wired to a Raft replica, and the certificates members carry.

Every member holds a certificate from the cluster's one CA whose SPIFFE id is
``spiffe://<trust domain>/controller/<member id>``; that id is the member's name in Raft
(docs/ha.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from ziti_aio.controller.cluster.codec import NO_OP
from ziti_aio.controller.cluster.replica import LOCAL_READS, TICK_S, Replica, ReplicaConfig, Submitted, Timing
from ziti_aio.controller.cluster.snapshot import SqliteSnapshots

if TYPE_CHECKING:
    import ssl

    from cryptography import x509

    from ziti_aio.controller.model.model import Model
    from ziti_aio.pki.ca import CertAuthority
    from ziti_aio.pki.keys import PrivateKey

MARKER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ClusterSettings:
    """A controller's ``[controller] cluster`` table: its member id and the other members, each
    ``(id, "host:port")`` of its API port (Raft shares that port, docs/ha.md), and how it answers
    reads (``reads``, one of :data:`~ziti_aio.controller.cluster.replica.READS`)."""

    member_id: str
    members: tuple[tuple[str, str], ...] = ()
    timing: Timing = field(default_factory=Timing)
    reads: str = LOCAL_READS


def member_spiffe_id(node_id: str) -> str:
    """The SPIFFE path of member ``node_id`` (joined to the CA's trust domain)."""
    return f"controller/{node_id}"


def issue_member_certificate(signer: CertAuthority, node_id: str, *, dns: list[str], ips: list[str],
                             key: PrivateKey | None = None) -> tuple[x509.Certificate, PrivateKey]:
    """A server-and-client certificate for member ``node_id`` (RSA: it also signs enrollment JWTs)."""
    return signer.issue_server("controller", dns=dns, ips=ips, key=key, spiffe_id=member_spiffe_id(node_id))


def open_replica(model: Model, config: ReplicaConfig, *, client_ssl: ssl.SSLContext) -> Replica:
    """A replica applying into ``model`` (and its store), with SQLite snapshots; ``model`` writes through it."""
    snapshots = SqliteSnapshots(model.store, flush=model.flush_committed, reload=model.reload)
    replica = Replica(config, client_ssl=client_ssl, apply=model.apply_committed,
                      serializer=snapshots.serialize, deserializer=snapshots.deserialize,
                      after_tick=model.check_speculation)
    snapshots.non_voters = lambda: dict(replica.raft.non_voters)
    snapshots.load_non_voters = replica.raft.set_non_voters
    model.replicate(replica)
    return replica


async def _snapshot_once_leading(replica: Replica) -> None:
    while True:  # polled as the controller's bootstrap is: writable changes inside pysyncobj's tick
        if replica.writable:
            break
        await trio.sleep(TICK_S)
    # A snapshot covers the log up to the entry before the last one applied, and a new member's log
    # starts with the same no-op as everyone's: one more entry makes the snapshot reach past it, so a
    # new member is sent the snapshot rather than the log after that no-op.
    marker = Submitted()
    replica.raft._applyCommand(bytes([NO_OP]), marker.finish)
    replica.nudge()
    await marker.wait(MARKER_TIMEOUT_S)
    replica.raft.forceLogCompaction()
    replica.nudge()


async def run_member(model: Model, replica: Replica, *, server_ssl: ssl.SSLContext | None = None,
                     host: str = "127.0.0.1", port: int = 0,
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the replica and the store writer until cancelled (``task_status`` gets the Raft port, 0 when
    the owner serves Raft connections on a port of its own)."""
    # A store written before this member's Raft log began (a single controller's): the log does not
    # hold that data, so the first snapshot must, before any member is added (docs/ha.md).
    outside_log = replica.alone and model.store.applied_index() == 0 and model.store.count_entities() > 0
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(model.write_committed)
            bound = await nursery.start(lambda task_status: replica.run(server_ssl=server_ssl, host=host, port=port,
                                                                       task_status=task_status))
            if outside_log:
                nursery.start_soon(_snapshot_once_leading, replica)
            task_status.started(bound)
    finally:
        model.flush_committed()  # a clean stop leaves the store complete (after kill -9 the journal is replayed)
