"""Linearizable reads: Raft's read-index (§6.4 of Ongaro's thesis) over our peer transport.

A read may be answered from a member's memory once that member has applied the log as far as the
leader had committed at a moment after the read arrived, with the leader's leadership confirmed by a
majority of voters after that moment (docs/ha.md, "Linearizable reads"):

- The leader takes its commit index when the read (its own, or a member's ``read_index`` message)
  reaches it, provided it has committed an entry of its own term (its no-op): before that its commit
  index may lag entries of earlier terms that a majority already has.
- It confirms its leadership with a round of ``read_round`` messages numbered by a counter of its own,
  started after the read arrived; a voter acknowledges a round of its current term (it has seen no
  later leader). An acknowledgement names its round, so one answering a round sent before the read
  arrived does not count for it. Reads that arrive while a round is in flight wait for the next one,
  which starts when the round in flight ends (batching). A leader that is the only voter needs no round.
- A member that is not the leader sends ``read_index`` and gets ``read_index_reply`` with the index,
  or -1 (not the leader, no quorum yet): it asks again, the leader it knows then, until its deadline.
  It has one question in flight at a time: reads that arrive meanwhile share the next question, sent
  when the one in flight is answered (batching, as the leader's rounds).

Everything here runs on the trio thread; the message handlers are called from pysyncobj's tick.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
from pysyncobj.monotonic import monotonic as raft_clock

from ziti_aio.common.errors import ClusterUnavailable
from ziti_aio.controller.cluster.codec import READ_INDEX, READ_INDEX_REPLY, READ_ROUND, READ_ROUND_ACK

if TYPE_CHECKING:
    from collections.abc import Callable

    from pysyncobj import SyncObj

    from ziti_aio.controller.cluster.codec import ClusterNode

POLL_S = 0.01
REFUSED = -1


@dataclass
class _Waiting:
    round: int
    index: int
    answer: Callable[[int], None]


@dataclass
class _Asked:
    leader: str
    done: trio.Event = field(default_factory=trio.Event)
    index: int = REFUSED
    request: int = 0  # its number once sent
    sent_at: float = 0.0


class ReadIndex:
    """The read-index of one member: the leader's rounds and a member's questions to the leader."""

    def __init__(self, raft: SyncObj, *, resend_s: float) -> None:
        self._raft = raft
        self._resend_s = resend_s
        self._term = -1  # the term of the rounds below
        self._round = 0  # the last round started
        self._confirmed = 0  # the last round a majority acknowledged
        self._sent_at = 0.0
        self._acked: dict[str, int] = {}  # voter id -> the last round it acknowledged
        self._waiting: list[_Waiting] = []
        self._asked: dict[int, _Asked] = {}  # request -> a question sent, not yet answered
        self._asking: _Asked | None = None  # this member's question in flight
        self._queued: _Asked | None = None  # the next one, for the reads that arrived after it was sent
        self._requests = itertools.count(1)
        self.questions = 0
        """Questions this member has sent to a leader, ever."""

    # --- the leader --------------------------------------------------------------------------

    def _read_at_leader(self, answer: Callable[[int], None]) -> None:
        """Answer ``answer(index)`` once the leadership is confirmed after now, or ``answer(-1)``."""
        raft = self._raft
        noop = raft._SyncObj__noopIDx
        if not raft._isLeader() or noop is None or raft.raftCommitIndex < noop:
            answer(REFUSED)
            return
        index = raft.raftCommitIndex
        if not raft.otherNodes:  # the only voter: its own log is the majority
            answer(index)
            return
        self._new_term()
        in_flight = self._confirmed < self._round
        self._waiting.append(_Waiting(self._round + 1, index, answer))
        if not in_flight:
            self._start_round()

    def _new_term(self) -> None:
        term = self._raft.raftCurrentTerm
        if term != self._term:
            self._fail_waiting()
            self._term, self._acked = term, {}
            self._confirmed = self._round  # rounds of another term never complete

    def _start_round(self) -> None:
        self._round += 1
        self._send_round()

    def _send_round(self) -> None:
        self._sent_at = raft_clock()
        message = {"type": READ_ROUND, "term": self._term, "round": self._round}
        for node in self._raft.otherNodes:
            if self._acked.get(node.id, 0) < self._round:
                self._raft.transport.send(node, message)

    def _acknowledged(self, node: ClusterNode, message: dict[str, Any]) -> None:
        raft = self._raft
        if (not raft._isLeader() or message["term"] != self._term or message["term"] != raft.raftCurrentTerm
                or node not in raft.otherNodes):
            return
        self._acked[node.id] = max(self._acked.get(node.id, 0), message["round"])
        self._check_rounds()

    def _check_rounds(self) -> None:
        voters = self._raft.otherNodes
        majority = (len(voters) + 1) // 2 + 1
        # The highest round that the leader itself and enough voters acknowledged.
        rounds = sorted((self._acked.get(n.id, 0) for n in voters), reverse=True)
        confirmed = min(rounds[majority - 2], self._round) if majority >= 2 else self._round
        if confirmed <= self._confirmed:
            return
        self._confirmed = confirmed
        done = [w for w in self._waiting if w.round <= confirmed]
        self._waiting = [w for w in self._waiting if w.round > confirmed]
        for waiting in done:
            waiting.answer(waiting.index)
        if self._waiting:
            self._start_round()

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.answer(REFUSED)

    def tick(self) -> None:
        """After each Raft tick: a leader no more fails its waiting reads; a round in flight is sent again
        every append period to the voters that have not acknowledged it (a message may be lost with
        its connection). A question to a leader that has not answered in time, or is not the leader this
        member knows now, is given up (its reads ask again)."""
        raft = self._raft
        asking = self._asking
        if asking is not None:
            leader = raft._getLeader()
            if (leader is None or leader.id != asking.leader
                    or raft_clock() - asking.sent_at >= self._question_timeout_s):
                self._answered(asking, REFUSED)
        if not self._waiting:
            return
        if not raft._isLeader() or raft.raftCurrentTerm != self._term or not raft.otherNodes:
            self._fail_waiting()  # (the only voter now: asked again, it answers at once)
        elif raft_clock() - self._sent_at >= self._resend_s:
            self._send_round()

    # --- messages (from pysyncobj's tick) ------------------------------------------------------

    def received(self, node: ClusterNode, message: dict[str, Any]) -> bool:
        """Handle a message of ours; ``False`` for any other."""
        kind = message["type"]
        if kind == READ_ROUND:
            if message["term"] == self._raft.raftCurrentTerm and not self._raft._isLeader():
                self._raft.transport.send(node, {"type": READ_ROUND_ACK, "term": message["term"],
                                                 "round": message["round"]})
        elif kind == READ_ROUND_ACK:
            self._acknowledged(node, message)
        elif kind == READ_INDEX:
            request = message["request"]
            self._read_at_leader(lambda index: self._raft.transport.send(
                node, {"type": READ_INDEX_REPLY, "request": request, "index": index}))
        elif kind == READ_INDEX_REPLY:
            asked = self._asked.get(message["request"])
            if asked is not None and asked.leader == node.id:
                self._answered(asked, message["index"])
        else:
            return False
        return True

    # --- any member ------------------------------------------------------------------------------

    async def read_index(self, deadline: float, nudge: Callable[[], None]) -> int:
        """The index this member must apply before it answers a read that has arrived (see above);
        :class:`ClusterUnavailable` if no leader confirms one by ``deadline`` (trio time)."""
        with trio.move_on_at(deadline):
            while True:
                index = await self._ask(nudge)
                if index != REFUSED:
                    return index
                await trio.sleep(POLL_S)
        raise ClusterUnavailable("no leader confirmed by a majority answered the read in time")

    async def _ask(self, nudge: Callable[[], None]) -> int:
        raft = self._raft
        if raft._isLeader():
            answered = _Asked(raft.selfNode.id)

            def answer(index: int) -> None:
                answered.index = index
                answered.done.set()

            self._read_at_leader(answer)
            nudge()
            await answered.done.wait()
            return answered.index
        if self._asking is None:
            asked = _Asked("")
            if not self._send(asked):
                return REFUSED
        else:  # a question sent before this read arrived cannot answer it: the next one will
            asked = self._queued = self._queued or _Asked("")
        # A leader that went silent is asked again once another is known (tick gives the question up).
        with trio.move_on_after(self._question_timeout_s):
            await asked.done.wait()
        return asked.index

    @property
    def _question_timeout_s(self) -> float:
        return max(self._resend_s * 10, 1.0)

    def _send(self, asked: _Asked) -> bool:
        """Send ``asked`` to the leader this member knows, as its question in flight."""
        raft = self._raft
        leader = raft._getLeader()
        if leader is None:
            return False
        asked.leader, asked.request, asked.sent_at = leader.id, next(self._requests), raft_clock()
        if not raft.transport.send(leader, {"type": READ_INDEX, "request": asked.request}):
            return False
        self._asked[asked.request] = asked
        self._asking = asked
        self.questions += 1
        return True

    def _answered(self, asked: _Asked, index: int) -> None:
        """``asked`` has its answer (or is given up: -1); the queued question, if any, goes out now."""
        asked.index = index
        asked.done.set()
        del self._asked[asked.request]
        if self._asking is asked:
            self._asking = None
            queued, self._queued = self._queued, None
            if queued is not None and not self._send(queued):
                queued.done.set()  # -1: its reads ask again
