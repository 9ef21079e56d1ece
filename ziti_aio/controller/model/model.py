"""The controller's model: every entity in memory, backed by the durable store.

Reads are served from memory. Writes go through :meth:`Model.transact`: under one lock a
builder validates against the current state and returns a :class:`Command`; the store
commits it durably, and only then does memory (names, policy index) change. Listeners
learn of every applied command (revocations, service-update stamps).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.model.fields import format_time, now_text
from ziti_aio.controller.model.policy_index import PolicyIndex
from ziti_aio.controller.store.commands import Command, Delete, Put

if TYPE_CHECKING:
    from ziti_aio.controller.store.sqlite_store import SqliteStore

log = logging.getLogger(__name__)

Entity = dict[str, Any]
Listener = Callable[[Command, dict[tuple[str, str], Entity | None]], None]

# How long a revocation is kept: longer than any token it revokes stays usable.
REVOCATION_KEEP_S = 7 * 24 * 3600

# Kinds whose entities carry a unique name.
NAMED_KINDS = frozenset({
    "identities", "services", "configs", "config-types", "edge-routers", "service-policies",
    "edge-router-policies", "service-edge-router-policies", "auth-policies", "cas",
})


# Entities whose changes can take access away, and the fields that decide it.
ACCESS_KINDS = frozenset({"identities", "services", "edge-routers"})
ACCESS_FIELDS = ("roleAttributes", "disabled")

# Unique secondary indexes: (kind, field) -> value -> id.
INDEXED_FIELDS = (
    ("authenticators", "fingerprint"),
    ("authenticators", "username"),
    ("enrollments", "token"),
)

# Kinds grouped by the identity they belong to: (kind) -> identity id -> {ids}.
OWNED_KINDS = ("authenticators", "enrollments", "api-sessions", "sessions")


class Model:
    """In-memory entities with name indexes and a policy index; writes via the store."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.entities: dict[str, dict[str, Entity]] = defaultdict(dict)
        self.names: dict[str, dict[str, str]] = defaultdict(dict)
        self.policy = PolicyIndex()
        self.indexes: dict[tuple[str, str], dict[Any, str]] = {key: {} for key in INDEXED_FIELDS}
        self.owned: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in OWNED_KINDS}
        self.last_change_at = now_text()
        self._lock = trio.Lock()
        self._listeners: list[Listener] = []

    @classmethod
    async def open(cls, store: SqliteStore) -> Model:
        """Load every stored entity and build the indexes."""
        model = cls(store)
        loaded = await trio.to_thread.run_sync(store.load_all)
        for kind, items in loaded.items():
            model.entities[kind] = items
            if kind in NAMED_KINDS:
                model.names[kind] = {e["name"]: i for i, e in items.items()}
            for ident, ent in items.items():
                model._index(kind, ident, None, ent)
        model.policy.rebuild(model.entities)
        return model

    # --- reads ----------------------------------------------------------------------------

    def get(self, kind: str, ident: str) -> Entity:
        """The entity of ``kind`` with id ``ident``, or :class:`NotFoundError`."""
        try:
            return self.entities[kind][ident]
        except KeyError:
            raise NotFoundError(kind, ident) from None

    def maybe(self, kind: str, ident: str | None) -> Entity | None:
        if ident is None:
            return None
        return self.entities[kind].get(ident)

    def by_name(self, kind: str, name: str) -> Entity | None:
        ident = self.names[kind].get(name)
        return None if ident is None else self.entities[kind][ident]

    def lookup(self, kind: str, field: str, value: Any) -> Entity | None:
        """The entity whose indexed ``field`` equals ``value`` (see :data:`INDEXED_FIELDS`)."""
        ident = self.indexes[(kind, field)].get(value)
        return None if ident is None else self.entities[kind].get(ident)

    def owned_by(self, kind: str, identity_id: str) -> list[Entity]:
        """Entities of ``kind`` (one of :data:`OWNED_KINDS`) belonging to an identity."""
        table = self.entities[kind]
        return [table[i] for i in self.owned[kind].get(identity_id, ()) if i in table]

    def _index(self, kind: str, ident: str, old: Entity | None, new: Entity | None) -> None:
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

    def find(self, kind: str, id_or_name: str) -> Entity:
        """Look up by id, then by name; :class:`NotFoundError` if neither matches."""
        ent = self.entities[kind].get(id_or_name) or self.by_name(kind, id_or_name)
        if ent is None:
            raise NotFoundError(kind, id_or_name)
        return ent

    def all(self, kind: str) -> Iterable[Entity]:
        return self.entities[kind].values()

    def where(self, kind: str, **equals: Any) -> list[Entity]:
        """Entities of ``kind`` whose fields equal the given values (a scan; for small kinds)."""
        return [e for e in self.entities[kind].values() if all(e.get(k) == v for k, v in equals.items())]

    # --- writes ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(command, previous)`` after each applied command."""
        self._listeners.append(listener)

    async def transact(self, build: Callable[[], Command | None]) -> Command | None:
        """Build a command against the current state under the write lock, then apply it.

        ``build`` validates and raises on bad input; nothing is stored in that case.
        """
        async with self._lock:
            command = build()
            if command is None or not command.changes:
                return None
            previous = await self._apply(command)
            follow_up = self._revoked_sessions(command, previous)
            if follow_up is not None:
                await self._apply(follow_up)
            return command

    async def _apply(self, command: Command) -> dict[tuple[str, str], Entity | None]:
        """Store ``command``, then change memory; returns each changed entity's previous state."""
        await trio.to_thread.run_sync(self.store.apply, command)
        previous: dict[tuple[str, str], Entity | None] = {}
        for change in command.changes:
            table = self.entities[change.kind]
            old = table.get(change.id)
            previous[(change.kind, change.id)] = old
            self._index(change.kind, change.id, old, change.data if isinstance(change, Put) else None)
            if isinstance(change, Put):
                if change.kind in NAMED_KINDS:
                    if old is not None:
                        self.names[change.kind].pop(old["name"], None)
                    self.names[change.kind][change.data["name"]] = change.id
                table[change.id] = change.data
                self.policy.put(change.kind, change.data, self.entities)
            elif old is not None:
                del table[change.id]
                if change.kind in NAMED_KINDS:
                    self.names[change.kind].pop(old["name"], None)
                self.policy.remove(change.kind, change.id)
        if any(c.kind not in ("api-sessions", "sessions", "revocations") for c in command.changes):
            self.last_change_at = now_text()
        for listener in self._listeners:
            listener(command, previous)
        return previous

    def _revoked_sessions(self, command: Command, previous: dict[tuple[str, str], Entity | None]) -> Command | None:
        """Sessions whose access a command removed, as a follow-up delete command.

        Only a change that can shrink access pays for the pass over every session: see
        :meth:`_may_remove_access`. A login storing the SDK's info on its identity cannot.
        """
        if not any(self._may_remove_access(c, previous.get((c.kind, c.id))) for c in command.changes):
            return None
        changes: list[Put | Delete] = []
        for sess in list(self.entities["sessions"].values()):
            identity = self.entities["identities"].get(sess["identityId"])
            allowed = (
                identity is not None
                and not identity.get("disabled")
                and sess["type"] in self.policy.permissions_for(sess["identityId"], sess["serviceId"])
            )
            if not allowed:
                changes.extend(session_revocation(sess))
        if not changes:
            return None
        return Command("controller", "access removed by policy change", tuple(changes))

    def _may_remove_access(self, change: Put | Delete, old: Entity | None) -> bool:
        """Any policy change; deleting an identity, service or router; or changing one's
        role attributes or disabled flag. New entities only ever add access."""
        if change.kind in self.policy.by_kind:
            return True
        if change.kind not in ACCESS_KINDS or old is None:
            return False
        if isinstance(change, Delete):
            return True
        return any(old.get(f) != change.data.get(f) for f in ACCESS_FIELDS)


def revocation(ident: str, rtype: str) -> Put:
    """A record that token ``ident`` (an API session or session id) is no longer valid."""
    now = datetime.now(UTC)
    return Put("revocations", {
        "id": ident, "type": rtype, "createdAt": format_time(now), "updatedAt": format_time(now),
        "expiresAt": format_time(now + timedelta(seconds=REVOCATION_KEEP_S)),
    })


def session_revocation(session: Entity) -> list[Put | Delete]:
    """Delete a session and record its revocation for routers."""
    return [Delete("sessions", session["id"]), revocation(session["id"], "SESSION")]
