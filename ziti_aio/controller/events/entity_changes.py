"""The model's applied commands as events: ``entityChange`` for every kind, plus ``session`` and
``apiSession`` for those kinds, and a ``committed`` entityChange after each command; routers' live
terminators as entityChange too (docs/events.md).

States pass through each kind's API allow-list (``KindRecord.shown``), so a stored secret (a
password hash) never reaches an event; the fields the API shows admins but an event stream must not
carry (enrollment tokens and JWTs) are taken out by name.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from ziti_aio.controller.events.types import ApiSessionEvent, EntityChangeEvent, Event, SessionEvent
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.records import RECORDS
from ziti_aio.controller.store.commands import Put

if TYPE_CHECKING:
    from ziti_aio.controller.events.bus import EventBus
    from ziti_aio.controller.model.model import Entity, Model, Previous
    from ziti_aio.controller.store.commands import Command

ALWAYS_SHOWN = frozenset({"id", "createdAt", "updatedAt", "tags"})
NEVER_IN_EVENTS = frozenset({"token", "verificationToken", "jwt", "enrollmentJwt", "password"})


def public_state(kind: Kind, entity: Entity | None) -> dict[str, Any] | None:
    """``entity`` with only the fields the API may show of its kind."""
    if entity is None:
        return None
    record = RECORDS.get(kind)
    allowed = (ALWAYS_SHOWN | frozenset(record.shown if record is not None else ())) - NEVER_IN_EVENTS
    return {k: v for k, v in entity.items() if k in allowed}


def watch_model(model: Model, bus: EventBus) -> None:
    """Publish the events of every command ``model`` applies."""

    def on_change(command: Command, previous: Previous) -> None:
        if not any(bus.wants(ns) for ns in ("entityChange", "session", "apiSession")):
            return
        for event in command_events(command, previous):
            bus.publish(event)

    model.add_listener(on_change)


def command_events(command: Command, previous: Previous) -> list[Event]:
    """The events one applied command gives: as OpenZiti, the changes of one transaction share an
    ``eventId`` and are followed by a ``committed`` event with it (docs/events.md)."""
    events: list[Event] = []
    event_id = secrets.token_hex(8)
    metadata = {"author": {"type": "identity", "id": command.actor}, "source": {"method": command.reason}}
    for change in command.changes:
        before = previous.get((change.kind, change.id))
        after = change.data if isinstance(change, Put) else None
        if before is None and after is None:
            continue
        event = _change_event(event_id, change.kind, before, after, metadata)
        events.append(event)
        if event.event_type == "updated":
            continue
        state = after if after is not None else before
        assert state is not None
        if change.kind == Kind.SESSIONS:
            events.append(SessionEvent(event_type=event.event_type, id=change.id,
                                       session_type=str(state.get("type", "")),
                                       api_session_id=str(state.get("apiSessionId", "")),
                                       identity_id=str(state.get("identityId", "")),
                                       service_id=str(state.get("serviceId", ""))))
        elif change.kind == Kind.API_SESSIONS:
            events.append(ApiSessionEvent(event_type=event.event_type, id=change.id,
                                          identity_id=str(state.get("identityId", "")),
                                          ip_address=str(state.get("ipAddress", "") or "")))
    if any(isinstance(e, EntityChangeEvent) for e in events):
        events.append(EntityChangeEvent(event_id=event_id, event_type="committed"))
    return events


def publish_entity_change(bus: EventBus, kind: Kind, before: Entity | None, after: Entity | None, *,
                          author: dict[str, str], method: str) -> None:
    """A change the model's commands do not make (a router's live terminator, docs/events.md) as a transaction
    of its own: its ``entityChange`` and the ``committed`` that follows."""
    if not bus.wants("entityChange"):
        return
    event_id = secrets.token_hex(8)
    bus.publish(_change_event(event_id, kind, before, after, {"author": author, "source": {"method": method}}))
    bus.publish(EntityChangeEvent(event_id=event_id, event_type="committed"))


def _change_event(event_id: str, kind: Kind, before: Entity | None, after: Entity | None,
                  metadata: dict[str, Any]) -> EntityChangeEvent:
    event_type = "created" if before is None else "updated" if after is not None else "deleted"
    return EntityChangeEvent(event_id=event_id, event_type=event_type, entity_type=str(kind.value),
                             initial_state=public_state(kind, before), final_state=public_state(kind, after),
                             metadata=metadata)
