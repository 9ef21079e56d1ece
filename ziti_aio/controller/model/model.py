"""The controller's model: every entity in memory, backed by the durable store.

Reads are served from memory. Writes go through :meth:`Model.transact`: under one lock a
builder validates against the current state and returns a :class:`Command`, which changes
memory (names, policy index) at once and joins the queue for the store. Commands queued
while one transaction is being written go together in the next one (group commit: one fsync
for many writes), and ``transact`` returns only once its command is durable, so nothing
acknowledged is lost to ``kill -9``. A store failure breaks the model: memory may be ahead
of the file, so every later write is refused until the controller restarts and reloads
(docs/model.md). Listeners learn of every applied command (revocations, stamps).

A clustered controller (:meth:`Model.replicate`) replaces the store queue with the Raft log: the
leader builds and applies a command in memory as above, appends it to the log and returns once a
majority committed it; every member applies committed commands in log order through
:meth:`Model.apply_committed`, and the store becomes each member's applied state (docs/ha.md).
"""

from __future__ import annotations

import gc
import json
import logging
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ziti_aio.common.errors import ClusterUnavailable, NotFoundError, StoreFailed
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.policy_index import PolicyIndex
from ziti_aio.controller.model.records import RECORDS
from ziti_aio.controller.model.revocations import session_revocation
from ziti_aio.controller.store.commands import Change, Command, Delete, Put
from ziti_aio.controller.store.sqlite_store import encode

if TYPE_CHECKING:
    from ziti_aio.controller.store.sqlite_store import Rows, SqliteStore

log = logging.getLogger(__name__)

Entity = dict[str, Any]
Previous = dict[tuple[Kind, str], Entity | None]
Listener = Callable[[Command, Previous], None]

# Entities whose changes can take access away, and the fields that decide it.
ACCESS_KINDS = frozenset({Kind.IDENTITIES, Kind.SERVICES, Kind.EDGE_ROUTERS})
ACCESS_FIELDS = ("roleAttributes", "disabled", "disabledAt")
# Changes to these kinds are not "changes to the network" an SDK should re-read services for.
SESSION_KINDS = frozenset({Kind.API_SESSIONS, Kind.SESSIONS, Kind.REVOCATIONS, Kind.API_SESSION_CERTIFICATES})
# Commands written in one store transaction at most (bounds one fsync's work and its waiters' wait).
MAX_BATCH_COMMANDS = 256
# How long a clustered write waits for a majority before answering 503 (docs/ha.md).
COMMIT_TIMEOUT_S = 5.0


class Submitted(Protocol):
    error: str | None

    async def wait(self, timeout_s: float) -> None: ...

    def give_up(self) -> None: ...


class ReplicatedLog(Protocol):
    """What the model needs of a Raft member (:class:`~ziti_aio.controller.cluster.replica.Replica`)."""

    @property
    def node_id(self) -> str: ...

    @property
    def is_leader(self) -> bool: ...

    @property
    def term(self) -> int: ...

    def check_writable(self) -> None: ...

    def submit(self, payload: str) -> Submitted: ...


class Model:
    """In-memory entities with name indexes and a policy index; writes via the store.

    Every table is a plain dict per :class:`Kind`: a kind that does not exist is a ``KeyError``,
    never an empty table.
    """

    def __init__(self, store: SqliteStore, *, max_batch_commands: int = MAX_BATCH_COMMANDS) -> None:
        self.store = store
        self.max_batch_commands = max_batch_commands
        self.entities: dict[Kind, dict[str, Entity]] = {kind: {} for kind in Kind}
        # name -> id, for kinds whose entities carry a unique name.
        self.names: dict[Kind, dict[str, str]] = {r.kind: {} for r in RECORDS.values() if r.named}
        self.policy = PolicyIndex()
        # Unique secondary indexes: (kind, field) -> value -> id.
        self.indexes: dict[tuple[Kind, str], dict[Any, str]] = {
            (r.kind, name): {} for r in RECORDS.values() for name in r.unique}
        # Kinds grouped by the identity they belong to: kind -> identity id -> {ids}.
        self.owned: dict[Kind, dict[str, set[str]]] = {
            r.kind: defaultdict(set) for r in RECORDS.values() if r.owned_by_identity}
        self.last_change_at = now_text()
        self._lock = trio.Lock()
        self._listeners: list[Listener] = []
        # Group commit: commands applied in memory and waiting for the store, in order.
        self._unwritten: list[Rows] = []
        self._queued = 0  # commands ever queued
        self._written = 0  # commands ever durably written
        self._writing: trio.Event | None = None  # set when the transaction being written ends
        self._store_error: BaseException | None = None
        # Cluster mode (replicate): the log, this member's commands applied in memory but not yet
        # committed (sequence -> (term, submitted)), and committed changes waiting for the store.
        self.log: ReplicatedLog | None = None
        self.commit_timeout_s = COMMIT_TIMEOUT_S
        self._sequence = 0
        self._speculative: dict[int, tuple[int, Submitted]] = {}
        self._committed_rows: deque[tuple[int, Rows]] = deque()
        self._rows_waiting = trio.Event()
        self._flush_lock = threading.Lock()
        self._origin = ""
        # Linearizable reads (docs/ha.md): reads that need memory without speculation, writers waiting
        # for them to end, and an event set (and replaced) whenever any of that or _speculative changes.
        self._committed_readers: dict[trio.lowlevel.Task, int] = {}
        self._writers_held = 0
        self._gate = trio.Event()

    @classmethod
    async def open(cls, store: SqliteStore, *, max_batch_commands: int = MAX_BATCH_COMMANDS) -> Model:
        """Load every stored entity and build the indexes, in bulk (docs/model.md, start-up)."""
        model = cls(store, max_batch_commands=max_batch_commands)
        # Loading allocates every entity at once and frees nothing: the cyclic collector would walk
        # the growing heap again and again (~half of start-up at 100,000 identities).
        collecting = gc.isenabled()
        gc.disable()
        try:
            model._load(await trio.to_thread.run_sync(store.load_all))
        finally:
            if collecting:
                gc.enable()
        return model

    def _load(self, loaded: dict[Kind, dict[str, Entity]]) -> None:
        self.entities = {kind: {} for kind in Kind}
        self.names = {kind: {} for kind in self.names}
        self.indexes = {key: {} for key in self.indexes}
        self.owned = {kind: defaultdict(set) for kind in self.owned}
        for kind, items in loaded.items():
            self.entities[kind] = items
            self._index_loaded(kind, items)
        self.policy = PolicyIndex()
        self.policy.rebuild(self.entities)

    def _index_loaded(self, kind: Kind, items: dict[str, Entity]) -> None:
        """Names, owners and unique indexes of a freshly loaded kind: :meth:`_index` for many at once."""
        if kind in self.names:
            self.names[kind] = {e["name"]: i for i, e in items.items()}
        owned = self.owned.get(kind)
        if owned is not None:
            for ident, ent in items.items():
                if ent.get("identityId") is not None:
                    owned[ent["identityId"]].add(ident)
        for (ikind, field), index in self.indexes.items():
            if ikind == kind:
                index.update((ent[field], ident) for ident, ent in items.items() if ent.get(field) is not None)

    # --- reads ----------------------------------------------------------------------------

    def get(self, kind: Kind, ident: str) -> Entity:
        """The entity of ``kind`` with id ``ident``, or :class:`NotFoundError`."""
        try:
            return self.entities[kind][ident]
        except KeyError:
            raise NotFoundError(kind, ident) from None

    def maybe(self, kind: Kind, ident: str | None) -> Entity | None:
        if ident is None:
            return None
        return self.entities[kind].get(ident)

    def by_name(self, kind: Kind, name: str) -> Entity | None:
        ident = self.names[kind].get(name)
        return None if ident is None else self.entities[kind][ident]

    def lookup(self, kind: Kind, field: str, value: Any) -> Entity | None:
        """The entity whose uniquely indexed ``field`` equals ``value`` (the record's ``unique``)."""
        ident = self.indexes[(kind, field)].get(value)
        return None if ident is None else self.entities[kind].get(ident)

    def owned_by(self, kind: Kind, identity_id: str) -> list[Entity]:
        """Entities of ``kind`` (a record with ``owned_by_identity``) belonging to an identity."""
        table = self.entities[kind]
        return [table[i] for i in self.owned[kind].get(identity_id, ()) if i in table]

    def _index(self, kind: Kind, ident: str, old: Entity | None, new: Entity | None) -> None:
        owned = self.owned.get(kind)
        if owned is not None:
            if old is not None and old.get("identityId") is not None:
                owners = owned.get(old["identityId"])
                if owners is not None:
                    owners.discard(ident)
                    if not owners:
                        del owned[old["identityId"]]
            if new is not None and new.get("identityId") is not None:
                owned[new["identityId"]].add(ident)
        for (ikind, field), index in self.indexes.items():
            if ikind != kind:
                continue
            if old is not None and old.get(field) is not None:
                index.pop(old[field], None)
            if new is not None and new.get(field) is not None:
                index[new[field]] = ident

    def find(self, kind: Kind, id_or_name: str) -> Entity:
        """Look up by id, then by name; :class:`NotFoundError` if neither matches."""
        ent = self.entities[kind].get(id_or_name) or (self.by_name(kind, id_or_name) if kind in self.names else None)
        if ent is None:
            raise NotFoundError(kind, id_or_name)
        return ent

    def all(self, kind: Kind) -> Iterable[Entity]:
        return self.entities[kind].values()

    def pick(self, kind: Kind, ids: Iterable[str]) -> list[Entity]:
        """The entities of ``kind`` with these ids (ids that do not exist are skipped)."""
        table = self.entities[kind]
        return [table[i] for i in ids if i in table]

    def session_routers(self, identity_id: str, service_id: str) -> list[Entity]:
        """The enabled edge routers through which ``identity_id`` may reach ``service_id``."""
        ids = self.policy.session_edge_routers(identity_id, service_id)
        return [r for r in self.pick(Kind.EDGE_ROUTERS, ids) if not r.get("disabled")]

    def where(self, kind: Kind, **equals: Any) -> list[Entity]:
        """Entities of ``kind`` whose fields equal the given values (a scan; for small kinds)."""
        return [e for e in self.entities[kind].values() if all(e.get(k) == v for k, v in equals.items())]

    def referencing(self, kind: Kind, field: str, ident: str) -> list[Entity]:
        """Entities of ``kind`` whose ``field`` (a value or a list) names ``ident``."""
        out = []
        for ent in self.entities[kind].values():
            value = ent.get(field)
            if value == ident or (isinstance(value, list) and ident in value):
                out.append(ent)
        return out

    # --- writes ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(command, previous)`` after each applied command."""
        self._listeners.append(listener)

    async def transact(self, build: Callable[[], Command | None]) -> Command | None:
        """Build a command against the current state under the write lock, apply it, and return
        once it is durable.

        ``build`` validates and raises on bad input; nothing changes in that case.
        """
        if self.log is not None:
            return await self._transact_replicated(self.log, build)
        async with self._lock:
            self._check_store()
            command = build()
            if command is None or not command.changes:
                return None
            previous = self._apply(command)
            follow_up = self._revoked_sessions(command, previous)
            if follow_up is not None:
                self._apply(follow_up)
            ticket = self._queued
        # Shielded: the wait is one fsync long, and an abandoned command must still reach the file.
        with trio.CancelScope(shield=True):
            await self._durable(ticket)
        return command

    @property
    def store_error(self) -> BaseException | None:
        """Why the store broke, or ``None`` while writes reach it."""
        return self._store_error

    def _check_store(self) -> None:
        if self._store_error is not None:
            raise StoreFailed(f"the store at {self.store.path} failed ({self._store_error}); "
                              "restart the controller") from self._store_error

    async def _durable(self, ticket: int) -> None:
        """Wait until the first ``ticket`` queued commands are in the store, writing them if no
        one else is: whoever finds no transaction in progress writes everything queued so far."""
        while self._written < ticket:
            self._check_store()
            if self._writing is not None:
                await self._writing.wait()
                continue
            batch = self._unwritten[:self.max_batch_commands]
            del self._unwritten[:len(batch)]
            writing = self._writing = trio.Event()
            try:
                await trio.to_thread.run_sync(self.store.write, batch)
            except Exception as exc:
                self._store_error = exc
                log.critical("the store failed; refusing writes until the controller restarts: %s", exc)
                self._check_store()
            else:
                self._written += len(batch)
            finally:
                self._writing = None
                writing.set()

    def _apply(self, command: Command) -> Previous:
        """Change memory and queue ``command`` for the store; returns each changed entity's previous state.

        Encoded first: data the store cannot hold fails this command alone, before anything changed."""
        self._unwritten.append(encode(command))
        self._queued += 1
        return self._change(command)

    def _change(self, command: Command) -> Previous:
        """Change memory (tables, indexes) and tell the listeners."""
        previous: Previous = {}
        for change in command.changes:
            table = self.entities[change.kind]
            old = table.get(change.id)
            previous[(change.kind, change.id)] = old
            self._index(change.kind, change.id, old, change.data if isinstance(change, Put) else None)
            names = self.names.get(change.kind)
            if isinstance(change, Put):
                if names is not None:
                    if old is not None:
                        names.pop(old["name"], None)
                    names[change.data["name"]] = change.id
                table[change.id] = change.data
                self.policy.put(change.kind, change.data, self.entities)
            elif old is not None:
                del table[change.id]
                if names is not None:
                    names.pop(old["name"], None)
                self.policy.remove(change.kind, change.id)
        if any(c.kind not in SESSION_KINDS for c in command.changes):
            self.last_change_at = now_text()
        for listener in self._listeners:
            listener(command, previous)
        return previous

    # --- cluster mode (docs/ha.md) ---------------------------------------------------------------

    def replicate(self, log: ReplicatedLog) -> None:
        """Write through ``log`` from now on; run :meth:`write_committed` alongside."""
        self.log = log
        # This process's name on its log entries: a restarted member's sequence numbers start again.
        self._origin = f"{log.node_id}/{secrets.token_hex(6)}"

    def _gate_changed(self) -> None:
        self._gate.set()
        self._gate = trio.Event()

    async def begin_committed_read(self, deadline: float) -> None:
        """Wait (until ``deadline``, trio time) until memory holds committed changes only, and keep it
        so until :meth:`end_committed_read`: new commands wait meanwhile. A leader's memory runs ahead
        of the log by its commands in flight ("Speculation" in docs/ha.md), which a linearizable read
        must not see. Writers already held go first, so reads do not starve them."""
        with trio.move_on_at(deadline):
            while self._writers_held:
                await self._gate.wait()
            task = trio.lowlevel.current_task()
            self._committed_readers[task] = self._committed_readers.get(task, 0) + 1
            try:
                while self._speculative:
                    await self._gate.wait()
            except BaseException:
                self.end_committed_read()
                raise
            return
        raise ClusterUnavailable("this controller's changes in flight were not committed in time")

    def end_committed_read(self) -> None:
        """A read begun by :meth:`begin_committed_read` (in this task) has been answered."""
        task = trio.lowlevel.current_task()
        left = self._committed_readers.pop(task) - 1
        if left:
            self._committed_readers[task] = left
        self._gate_changed()

    def _held_by_reads(self) -> bool:
        """Whether reads of other tasks hold memory (a read that writes does not wait for itself)."""
        readers = self._committed_readers
        return len(readers) > 1 or (bool(readers) and trio.lowlevel.current_task() not in readers)

    async def _transact_replicated(self, log: ReplicatedLog, build: Callable[[], Command | None]) -> Command | None:
        if self._held_by_reads():
            self._writers_held += 1
            try:
                while self._held_by_reads():
                    await self._gate.wait()
            finally:
                self._writers_held -= 1
                self._gate_changed()
        async with self._lock:
            self._check_store()
            log.check_writable()
            if any(s.error is not None for _, s in self._speculative.values()):
                raise ClusterUnavailable("this controller is re-reading the committed state")
            command = build()
            if command is None or not command.changes:
                return None
            texts = [command.to_json()]  # data JSON cannot hold fails here, before anything changed
            previous = self._change(command)
            follow_up = self._revoked_sessions(command, previous)
            if follow_up is not None:
                self._change(follow_up)
                texts.append(follow_up.to_json())
            self._sequence += 1
            payload = f'{{"o":{json.dumps(self._origin)},"s":{self._sequence},"c":[{",".join(texts)}]}}'
            submitted = log.submit(payload)
            self._speculative[self._sequence] = (log.term, submitted)
        # Shielded, as the store wait: the change is in memory and in the log, its outcome must be seen.
        with trio.CancelScope(shield=True):
            await submitted.wait(self.commit_timeout_s)
        return command

    def apply_committed(self, index: int, payload: str) -> None:
        """Apply a committed log entry (every member, in log order). This member's own commands are
        in memory already; every command goes to the store queue."""
        try:
            raw = json.loads(payload)
            own = raw["o"] == self._origin and self._speculative.pop(raw["s"], None)
            if own and not self._speculative:
                self._gate_changed()
            commands = [Command.from_dict(c) for c in raw["c"]]
            for command in commands:
                rows = encode(command)
                if not own:
                    self._change(command)
                self._committed_rows.append((index, rows))
        except Exception as exc:  # a committed entry every member fails alike: stop writing, keep serving reads
            self._store_error = exc
            log.critical("cannot apply committed entry %d; refusing writes: %s", index, exc)
        self._rows_waiting.set()

    def check_speculation(self) -> None:
        """After each Raft tick: memory holds uncommitted commands of this member that may now never
        commit (it lost the leadership, or one failed): read the committed state back from the store."""
        if not self._speculative or self.log is None:
            return
        term = self.log.term
        lost = not self.log.is_leader or any(t != term for t, _ in self._speculative.values())
        failed = [s for _, s in self._speculative.values() if s.error is not None]
        if lost or (failed and len(failed) == len(self._speculative)):
            in_flight = [s for _, s in self._speculative.values()]
            self.reload()
            if lost:  # their writers get the 503 now, not at the commit timeout; one may still commit
                for submitted in in_flight:
                    submitted.give_up()

    def reload(self) -> None:
        """Rebuild memory from the store (after flushing every committed change into it)."""
        self.flush_committed()
        self._load(self.store.load_all())
        self._speculative.clear()
        self._gate_changed()
        self.last_change_at = now_text()
        log.warning("memory re-read from the committed state in %s", self.store.path)

    def flush_committed(self) -> None:
        """Write every committed change still queued to the store, in order (blocking)."""
        with self._flush_lock:
            batch: list[Rows] = []
            index = 0
            while self._committed_rows:
                index, rows = self._committed_rows.popleft()
                batch.append(rows)
            if batch:
                self.store.write(batch, applied_index=index)

    async def write_committed(self) -> None:
        """Write committed changes to the store as they come (group commit in a worker thread)."""
        while True:
            await self._rows_waiting.wait()
            self._rows_waiting = trio.Event()
            try:
                await trio.to_thread.run_sync(self.flush_committed)
            except Exception as exc:
                self._store_error = exc
                log.critical("the store failed; refusing writes until the controller restarts: %s", exc)
                return

    def _revoked_sessions(self, command: Command, previous: Previous) -> Command | None:
        """Sessions whose access a command removed, as a follow-up delete command.

        Only a change that can shrink access pays for the pass over every session: see
        :meth:`_may_remove_access`. A login storing the SDK's info on its identity cannot.
        """
        if not any(self._may_remove_access(c, previous.get((c.kind, c.id))) for c in command.changes):
            return None
        changes: list[Change] = []
        for sess in list(self.entities[Kind.SESSIONS].values()):
            identity = self.entities[Kind.IDENTITIES].get(sess["identityId"])
            allowed = (
                identity is not None
                and not is_disabled(identity)
                and sess["type"] in self.policy.permissions_for(sess["identityId"], sess["serviceId"])
            )
            if not allowed:
                changes.extend(session_revocation(sess))
        if not changes:
            return None
        return Command("controller", "access removed by policy change", tuple(changes))

    def _may_remove_access(self, change: Change, old: Entity | None) -> bool:
        """Any policy change; deleting an identity, service or router; or changing one's
        role attributes or disabled flag. New entities only ever add access."""
        if change.kind in self.policy.by_kind:
            return True
        if change.kind not in ACCESS_KINDS or old is None:
            return False
        if isinstance(change, Delete):
            return True
        return any(old.get(f) != change.data.get(f) for f in ACCESS_FIELDS)

