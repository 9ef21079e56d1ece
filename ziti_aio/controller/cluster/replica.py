"""One member's Raft replica: pysyncobj driven from trio, our transport, commands that complete events.

pysyncobj runs with ``autoTick=False``: a trio task calls ``doTick(0)`` whenever a message arrived
or a command was submitted, and at least every :data:`TICK_S`. Everything pysyncobj does (votes,
appends, commits, applying entries, snapshots) therefore happens on the trio thread between awaits,
with no lock and no second thread (docs/ha.md). A submitted command completes a :class:`Submitted`
when it is committed by a majority and applied here, or fails it when Raft says it will not be.
"""

from __future__ import annotations

import logging
import queue
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.config import FAIL_REASON
from pysyncobj.monotonic import monotonic as raft_clock  # CLOCK_MONOTONIC_RAW, not time.monotonic

from ziti_aio.common.errors import ClusterUnavailable, ValidationError
from ziti_aio.controller.cluster.codec import MAX_COMMAND_BYTES, ClusterNode, command_entry, entry_payload
from ziti_aio.controller.cluster.transport import TrioTransport
from ziti_aio.transport.serve import serve_tls

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable
    from pathlib import Path

    from ziti_aio.transport.tls_stream import TlsStream

log = logging.getLogger(__name__)

TICK_S = 0.01
JOURNAL_FILE = "raft.journal"
SNAPSHOT_FILE = "raft.snapshot"
_FAILURES = {
    FAIL_REASON.QUEUE_FULL: "the command queue is full",
    FAIL_REASON.MISSING_LEADER: "the cluster has no leader",
    FAIL_REASON.DISCARDED: "a new leader replaced the command",
    FAIL_REASON.NOT_LEADER: "this controller is not the leader",
    FAIL_REASON.LEADER_CHANGED: "the leader changed before the command was committed",
    FAIL_REASON.REQUEST_DENIED: "the cluster refused the request",
    FAIL_REASON.UNKNOWN_OUTCOME: "the outcome of the command is unknown",
}


@dataclass(frozen=True)
class Timing:
    """Raft timings (seconds). Elections start after a random wait in ``[election_min, election_max]``
    without a leader; a leader that hears from no majority for ``leader_fallback`` steps down."""

    election_min: float = 0.6
    election_max: float = 1.2
    append_period: float = 0.02
    leader_fallback: float = 1.2
    compaction_min_entries: int = 5000
    compaction_min_s: float = 300.0


@dataclass(frozen=True)
class ReplicaConfig:
    """Who this member is and who the others are (ids are controller ids of certificates' SPIFFE ids)."""

    node_id: str
    address: str
    """Where the others reach this member's Raft port, ``host:port``."""
    members: tuple[tuple[str, str], ...]
    """The other members as ``(id, address)``; empty for a new cluster of one."""
    data_dir: Path
    trust_domain: str
    timing: Timing = field(default_factory=Timing)


class Submitted:
    """A command in flight: :meth:`wait` returns once it is committed and applied, or raises."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: str | None = None

    def finish(self, _result: Any, error: int) -> None:
        if error != FAIL_REASON.SUCCESS:
            self.error = _FAILURES.get(error, f"raft error {error}")
        self.done.set()

    async def wait(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s``: :class:`ClusterUnavailable` if it failed or took longer."""
        with trio.move_on_after(timeout_s):
            await self.done.wait()
        if not self.done.is_set():
            raise ClusterUnavailable(f"no majority committed the change within {timeout_s:g}s")
        if self.error is not None:
            raise ClusterUnavailable(self.error)


class _Raft(SyncObj):  # type: ignore[misc]
    """SyncObj whose entries of ours (JSON commands) go to ``apply``; its own stay its own."""

    def __init__(self, apply: Callable[[int, str], None], appended: Callable[[], None], *args: Any,
                 **kwargs: Any) -> None:
        self._apply_ours = apply
        self._appended = appended
        super().__init__(*args, **kwargs)

    def _checkCommandsToApply(self) -> None:
        # pysyncobj would forward a command queued here to a new leader if this member lost the
        # leadership since: ours are built against this member's memory, so they fail instead
        # (docs/ha.md); only a leader appends them.
        if not self._isLeader():
            waiting = self._SyncObj__commandsQueue
            while True:
                try:
                    _command, callback = waiting.get_nowait()
                except queue.Empty:
                    break
                if callable(callback):
                    callback(None, FAIL_REASON.NOT_LEADER)
            return
        super()._checkCommandsToApply()
        if self._send_now():
            self._SyncObj__newAppendEntriesTime = 0
            self._appended()

    def _send_now(self) -> bool:
        """Whether entries wait that a follower with no append in flight has not been sent: those go
        out on the next tick, not an append period later (latency). While every follower has one in
        flight, new entries wait for an answer (or the append period) and then go out together: one
        append per round trip under load instead of one per write, and none re-sent (pysyncobj moves
        a follower's next index back to what it answered, docs/ha.md "Writes")."""
        last = self._SyncObj__getCurrentLogIndex()
        sent, matched = self._SyncObj__raftNextIndex, self._SyncObj__raftMatchIndex
        return any(last >= sent.get(node, 0) and matched.get(node, 0) >= sent.get(node, 0) - 1
                   for node in self._SyncObj__otherNodes)

    # pysyncobj applies every committed entry through this (name-mangled) method.
    def _SyncObj__doApplyCommand(self, command: bytes) -> Any:
        payload = entry_payload(command)
        if payload is None:
            return SyncObj._SyncObj__doApplyCommand(self, command)
        self._apply_ours(self.raftLastApplied + 1, payload)
        return None


class Replica:
    """A Raft member. ``apply(index, payload)`` is called for every committed command, in log order,
    on every member; ``after_tick()`` after every tick. Snapshots are made and loaded by
    ``serializer``/``deserializer`` (pysyncobj's hooks: :mod:`ziti_aio.controller.cluster.snapshot`)."""

    def __init__(self, config: ReplicaConfig, *, client_ssl: ssl.SSLContext, apply: Callable[[int, str], None],
                 serializer: Callable[[str, Any], None], deserializer: Callable[[str], Any],
                 after_tick: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self.after_tick = after_tick
        self._wake = trio.Event()
        self.self_node = ClusterNode(config.node_id, config.address)
        others = [ClusterNode(i, a) for i, a in config.members if i != config.node_id]
        self.transport = TrioTransport(self.self_node, others, trust_domain=config.trust_domain,
                                       client_ssl=client_ssl, nudge=self.nudge, unreachable=self._unreachable)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        t = config.timing
        conf = SyncObjConf(
            autoTick=False, dynamicMembershipChange=True, useFork=False,
            journalFile=str(config.data_dir / JOURNAL_FILE), fullDumpFile=str(config.data_dir / SNAPSHOT_FILE),
            serializer=serializer, deserializer=deserializer,
            raftMinTimeout=t.election_min, raftMaxTimeout=t.election_max, appendEntriesPeriod=t.append_period,
            leaderFallbackTimeout=t.leader_fallback, logCompactionMinEntries=t.compaction_min_entries,
            logCompactionMinTime=t.compaction_min_s,
            # Above any command, so pysyncobj never splits an entry into its pickled form (codec.py).
            appendEntriesBatchSizeBytes=2 * MAX_COMMAND_BYTES + 4096,
            logCompactionBatchSize=1024 * 1024,
        )
        self.raft = _Raft(apply, self.nudge, self.self_node, others, conf, transport=self.transport)

    # --- state ---------------------------------------------------------------------------

    @property
    def node_id(self) -> str:
        return self.config.node_id

    @property
    def is_leader(self) -> bool:
        return bool(self.raft._isLeader())

    @property
    def leader_id(self) -> str | None:
        leader = self.raft._getLeader()
        return None if leader is None else str(leader.id)

    @property
    def term(self) -> int:
        return int(self.raft.raftCurrentTerm)

    @property
    def applied_index(self) -> int:
        return int(self.raft.raftLastApplied)

    @property
    def writable(self) -> bool:
        """Leader, and every entry of earlier terms applied (its term's no-op is): a command built
        now sees everything that will precede it in the log."""
        noop = self.raft._SyncObj__noopIDx
        return self.is_leader and noop is not None and self.raft.raftLastApplied >= noop

    def check_writable(self) -> None:
        """:class:`ClusterUnavailable` unless this member may build and submit commands now."""
        if self.writable:
            return
        leader = self.leader_id
        if leader is None or leader == self.node_id:
            raise ClusterUnavailable("the cluster has no leader")
        raise ClusterUnavailable(f"this controller is not the leader ({leader} is)")

    def members(self) -> list[dict[str, Any]]:
        """Every member: id, address, whether it is connected and the leader (as ``cluster list`` shows)."""
        leader = self.leader_id
        out = [{"id": self.node_id, "address": self.config.address, "voter": True, "leader": leader == self.node_id,
                "connected": True}]
        for node in sorted(self.raft.otherNodes, key=lambda n: n.id):
            out.append({"id": node.id, "address": node.address, "voter": True, "leader": leader == node.id,
                        "connected": bool(self.raft.isNodeConnected(node))})
        return out

    # --- commands ------------------------------------------------------------------------

    def submit(self, payload: str) -> Submitted:
        """Append a command (JSON text) to the log through the leader."""
        if len(payload) > MAX_COMMAND_BYTES:
            raise ValidationError(f"the change is {len(payload)} bytes; at most {MAX_COMMAND_BYTES} may be replicated")
        submitted = Submitted()
        self.raft._applyCommand(command_entry(payload), submitted.finish)
        self.nudge()
        return submitted

    def nudge(self) -> None:
        """Tick soon (a message arrived or a command is waiting)."""
        self._wake.set()

    def _unreachable(self, node: ClusterNode) -> None:
        """The transport saw ``node``'s process go (its connection ended, its port refuses). If it led,
        or no leader is known, elect a new leader now instead of an election timeout after its last
        append (docs/ha.md, "Failover"). The survivors go in the order of their ids,
        ``election_min / 4`` apart with a little jitter, so the first one's request for votes reaches
        the others before they start their own: two candidates at once would split the vote and cost
        a full election timeout."""
        if self.is_leader or self.leader_id not in (node.id, None):
            return  # (None: another survivor's request for votes came first, and may be refused)
        survivors = sorted({n.id for n in self.raft.otherNodes if n.id != node.id} | {self.node_id})
        spacing = self.config.timing.election_min / 4
        soon = raft_clock() + spacing * (survivors.index(self.node_id) + random.random() / 2)
        if soon < self.raft._SyncObj__raftElectionDeadline:
            self.raft._SyncObj__raftElectionDeadline = soon
            log.info("the leader %s is gone: an election in %.0f ms", node.id, (soon - raft_clock()) * 1000)
            self.nudge()

    # --- running -------------------------------------------------------------------------

    async def serve_peer(self, stream: TlsStream) -> None:
        """Handle one member's incoming connection (the handler of the ``ziti-aio-raft`` ALPN protocol)."""
        await self.transport.serve_peer(stream)

    async def run(self, *, server_ssl: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0,
                  task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Tick and talk to the others until cancelled. With ``server_ssl`` also listen on ``host:port`` for
        them (otherwise the owner routes raft connections to :meth:`serve_peer`); the
        started value is that port (0 without a listener)."""
        async with trio.open_nursery() as nursery:
            bound = 0
            if server_ssl is not None:
                _, bound = await nursery.start(lambda task_status: serve_tls(
                    self.serve_peer, server_ssl, host=host, port=port, name=f"raft {self.node_id}",
                    task_status=task_status))
            await nursery.start(self.transport.run)
            nursery.start_soon(self._tick)
            task_status.started(bound)

    async def _tick(self) -> None:
        try:
            while True:
                self._wake = trio.Event()
                self.raft.doTick(0)
                self.after_tick()
                with trio.move_on_after(TICK_S):
                    await self._wake.wait()
        finally:
            self.raft._SyncObj__raftLog._destroy()

