"""One member's Raft replica: pysyncobj driven from trio, our transport, commands that complete events.

pysyncobj runs with ``autoTick=False``: a trio task calls ``doTick(0)`` whenever a message arrived
or a command was submitted, and at least every :data:`TICK_S`. Everything pysyncobj does (votes,
appends, commits, applying entries, snapshots) therefore happens on the trio thread between awaits,
with no lock and no second thread (docs/ha.md). A submitted command completes a :class:`Submitted`
when it is committed by a majority and applied here, or fails it when Raft says it will not be.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.config import FAIL_REASON
from pysyncobj.monotonic import monotonic as raft_clock  # CLOCK_MONOTONIC_RAW, not time.monotonic

from ziti_aio.common.errors import ClusterUnavailable, ValidationError
from ziti_aio.controller.cluster.codec import (
    MAX_COMMAND_BYTES,
    MEMBERSHIP,
    NON_VOTER_HELLO,
    ClusterNode,
    command_entry,
    entry_payload,
    membership_change,
    non_voter_change,
    non_voter_entry,
)
from ziti_aio.controller.cluster.journal_sync import JournalSync
from ziti_aio.controller.cluster.read_index import ReadIndex
from ziti_aio.controller.cluster.snapshot import snapshot_members
from ziti_aio.controller.cluster.transport import TrioTransport
from ziti_aio.transport.serve import serve_tls

if TYPE_CHECKING:
    import ssl
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from ziti_aio.transport.tls_stream import TlsStream

log = logging.getLogger(__name__)

TICK_S = 0.01
ALONE_TICK_S = 0.1
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


LOCAL_READS, LINEARIZABLE_READS = "local", "linearizable"
READS = (LOCAL_READS, LINEARIZABLE_READS)
"""How a member answers the APIs' reads: from its own memory (OpenZiti's way, no quorum needed), or
only after Raft's read-index (docs/ha.md "Linearizable reads")."""


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
    reads: str = LOCAL_READS
    """One of :data:`READS`."""


class Submitted:
    """A command in flight: :meth:`wait` returns once it is committed and applied, or raises."""

    def __init__(self, durable: Callable[[], Awaitable[None]] | None = None) -> None:
        self.done = trio.Event()
        self.error: str | None = None
        self.durable = durable
        """Awaited after the commit before :meth:`wait` returns (a cluster of one: the journal's fsync)."""

    def finish(self, _result: Any, error: int) -> None:
        if self.done.is_set():  # given up already: its writer was answered
            return
        if error != FAIL_REASON.SUCCESS:
            self.error = _FAILURES.get(error, f"raft error {error}")
        self.done.set()

    def give_up(self) -> None:
        """Its writer waits no longer (this member lost the leadership): the outcome is unknown, the
        command may still commit and is then applied like any other (docs/ha.md, "Speculation")."""
        self.finish(None, FAIL_REASON.UNKNOWN_OUTCOME)

    async def wait(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s``: :class:`ClusterUnavailable` if it failed or took longer."""
        with trio.move_on_after(timeout_s):
            await self.done.wait()
        if not self.done.is_set():
            raise ClusterUnavailable(f"no majority committed the change within {timeout_s:g}s")
        if self.error is not None:
            raise ClusterUnavailable(self.error)
        if self.durable is not None:
            await self.durable()


class _Raft(SyncObj):  # type: ignore[misc]
    """SyncObj whose entries of ours (JSON commands) go to ``apply``; its own stay its own.

    It also knows the non-voting members (docs/ha.md "Non-voting members"): their changes are log
    entries of ours, applied here in log order; pysyncobj sees them as read-only nodes. A member that
    does not vote itself never starts an election.
    """

    def __init__(self, apply: Callable[[int, str], None], appended: Callable[[], None], *args: Any,
                 **kwargs: Any) -> None:
        self._apply_ours = apply
        self._appended = appended
        self.voter = True
        self.non_voters: dict[str, str] = {}
        """The non-voting members, id → address (this one included when it does not vote)."""
        super().__init__(*args, **kwargs)
        self.transport: TrioTransport = kwargs["transport"]
        self.reads = ReadIndex(self, resend_s=self.conf.appendEntriesPeriod)
        self.transport.setOnMessageReceivedCallback(self._received)
        self.transport.setOnReadonlyNodeDisconnectedCallback(self._read_only_lost)

    def _onTick(self, timeToWait: float = 0.0) -> None:
        if not self.voter:
            self._SyncObj__raftElectionDeadline = math.inf
        super()._onTick(timeToWait)

    def _received(self, node: ClusterNode, message: dict[str, Any]) -> None:
        if self.reads.received(node, message):
            return
        if message["type"] == NON_VOTER_HELLO:
            # Believed from the leader, or while this member knows none (it has just been added):
            # a follower that has not applied a promotion yet still sends it.
            if self._getLeader() in (None, node):
                self._set_voter(False)
            return
        if not self.voter and message["type"] in ("request_vote", "timeout_now"):
            return  # a member whose configuration still names this one a voter asks for its vote
        if (not self.voter and message["type"] == "append_entries"
                and message["term"] < self.raftCurrentTerm):
            # A member that does not vote may have raised its term in elections no one answered
            # before it was added; its term means nothing, and a higher one would make it ignore
            # the leader for good.
            self._SyncObj__setCurrentTerm(message["term"], None)
        self._SyncObj__onMessageReceived(node, message)

    def _read_only_lost(self, node: ClusterNode) -> None:
        # pysyncobj's own handler also drops the node's log positions, which a non-voter just
        # promoted to voter needs.
        self._SyncObj__readonlyNodes.discard(node)
        self._SyncObj__connectedNodes.discard(node)
        if node not in self.otherNodes:
            self._SyncObj__raftNextIndex.pop(node, None)
            self._SyncObj__raftMatchIndex.pop(node, None)

    def _set_voter(self, voter: bool) -> None:
        if voter and not self.voter:
            self._SyncObj__raftElectionDeadline = time.monotonic() + self.conf.raftMaxTimeout
        self.voter = voter

    def _change_non_voters(self, op: str, ident: str, address: str) -> None:
        if op == "add":
            self.non_voters[ident] = address
            if ident == self.selfNode.id:
                self._set_voter(False)
                return
            node = ClusterNode(ident, address)
            if node in self.otherNodes:  # a voter demoted, or one this member's configuration named
                self._SyncObj__otherNodes.discard(node)
                self._SyncObj__raftNextIndex.pop(node, None)
                self._SyncObj__raftMatchIndex.pop(node, None)
                self._SyncObj__connectedNodes.discard(node)
            self.transport.add_non_voter(node)
        else:
            self.non_voters.pop(ident, None)
            self.transport.drop_non_voter(ident)

    def set_non_voters(self, members: dict[str, str]) -> None:
        """Replace the non-voting members (a snapshot was loaded)."""
        for ident in set(self.non_voters) - set(members):
            self._change_non_voters("rem", ident, self.non_voters[ident])
        for ident, address in members.items():
            self._change_non_voters("add", ident, address)

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
        if not self._SyncObj__otherNodes:
            self._commit_alone()
        elif self._send_now():
            self._SyncObj__newAppendEntriesTime = 0
            self._appended()

    def _commit_alone(self) -> None:
        """The only voter commits what it has just appended, in this tick: its own log is the majority,
        and the newest entry is of its term, which commits every one before it (docs/ha.md "A cluster
        of one"). pysyncobj would commit it on the next tick, applying it one wake-up later."""
        last = self._SyncObj__getCurrentLogIndex()
        if self.raftCommitIndex >= last or self._SyncObj__getCurrentLogTerm() != self.raftCurrentTerm:
            return
        self._SyncObj__raftCommitIndex = self._SyncObj__leaderCommitIndex = last
        self._SyncObj__raftLog.setRaftCommitIndex(last)
        self._SyncObj__applyLogEntries()

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
        if payload is not None:
            self._apply_ours(self.raftLastApplied + 1, payload)
            return None
        change = non_voter_change(command)
        if change is not None:
            self._change_non_voters(*change)
            return None
        member = membership_change(command)
        if member is not None and member[1] == self.selfNode.id and member[0] == "add":
            self.non_voters.pop(member[1], None)
            self._set_voter(True)  # promoted
        return SyncObj._SyncObj__doApplyCommand(self, command)


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
        self._ticked = trio.Event()  # set (and replaced) after every tick
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
        self.journal = JournalSync(config.data_dir / JOURNAL_FILE, self.raft._SyncObj__getCurrentLogIndex)
        self.alone = not others and self._never_had_others()
        """A cluster of one: it elects itself on its first tick and fsyncs the journal before a write is
        acknowledged (docs/ha.md)."""
        if self.alone:
            self.raft._SyncObj__raftElectionDeadline = 0

    def _never_had_others(self) -> bool:
        """No membership change in the journal and none but this member in the snapshot: pysyncobj
        learns those only as it applies them, after its first election would have begun."""
        log_entries = self.raft._SyncObj__raftLog
        if any(log_entries[i][0][:1] == bytes([MEMBERSHIP]) for i in range(len(log_entries))):
            return False
        members = snapshot_members(self.config.data_dir / SNAPSHOT_FILE)
        return members is None or members == [self.node_id]

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

    @property
    def alone_and_writable(self) -> bool:
        """The only voter, leading: no timer of pysyncobj needs a 10 ms tick then (docs/ha.md)."""
        return not self.raft.otherNodes and self.writable

    def check_writable(self) -> None:
        """:class:`ClusterUnavailable` unless this member may build and submit commands now."""
        if self.writable:
            return
        leader = self.leader_id
        if leader is None or leader == self.node_id:
            raise ClusterUnavailable("the cluster has no leader")
        raise ClusterUnavailable(f"this controller is not the leader ({leader} is)")

    @property
    def voter(self) -> bool:
        """Whether this member votes (and may lead)."""
        return self.raft.voter

    def is_non_voter(self, ident: str) -> bool:
        """Whether member ``ident`` is a non-voting member."""
        return ident in self.raft.non_voters

    def members(self) -> list[dict[str, Any]]:
        """Every member: id, address, whether it votes, is connected and leads (as ``cluster list`` shows)."""
        leader = self.leader_id
        out = [{"id": self.node_id, "address": self.config.address, "voter": self.voter,
                "leader": leader == self.node_id, "connected": True}]
        others = {n.id: (n.address, True) for n in self.raft.otherNodes}
        others.update((i, (a, False)) for i, a in self.raft.non_voters.items() if i != self.node_id)
        connected = self.transport.peers
        for ident, (address, voter) in sorted(others.items()):
            peer = connected.get(ident)
            out.append({"id": ident, "address": address, "voter": voter, "leader": leader == ident,
                        "connected": peer is not None and peer.connected})
        return out

    # --- commands ------------------------------------------------------------------------

    def submit(self, payload: str) -> Submitted:
        """Append a command (JSON text) to the log through the leader."""
        if len(payload) > MAX_COMMAND_BYTES:
            raise ValidationError(f"the change is {len(payload)} bytes; at most {MAX_COMMAND_BYTES} may be replicated")
        submitted = Submitted(None if self.raft.otherNodes else self._journal_durable)
        self.raft._applyCommand(command_entry(payload), submitted.finish)
        self.nudge()
        return submitted

    def change_non_voters(self, op: str, ident: str, address: str) -> Submitted:
        """Append the addition (``"add"``) or removal (``"rem"``) of non-voting member ``ident``."""
        submitted = Submitted()
        self.raft._applyCommand(non_voter_entry(op, ident, address), submitted.finish)
        self.nudge()
        return submitted

    async def read_barrier(self, deadline: float) -> None:
        """Return once this member may answer a linearizable read that has arrived: it applied the
        log as far as a leader confirmed by a majority had committed after now (Raft's read-index);
        :class:`ClusterUnavailable` if that does not happen by ``deadline`` (trio time)."""
        index = await self.raft.reads.read_index(deadline, self.nudge)
        with trio.move_on_at(deadline):
            while self.applied_index < index:
                await self._ticked.wait()
            return
        raise ClusterUnavailable(f"this controller did not apply the log up to {index} in time")

    async def _journal_durable(self) -> None:
        await self.journal.until(self.applied_index)

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
                self.raft.reads.tick()
                self.after_tick()
                self._ticked.set()
                self._ticked = trio.Event()
                with trio.move_on_after(ALONE_TICK_S if self.alone_and_writable else TICK_S):
                    await self._wake.wait()
        finally:
            self.raft._SyncObj__raftLog._destroy()
            self.journal.close()

