"""The router model: what each router needs to authorize dials and binds itself (docs/router-model.md).

For every identity: its name, whether it is disabled, and the services it may dial and bind through
a service policy without posture checks (a posture-gated grant stays the controller's decision, made
on a service session). The feed keeps that view current from the model's change hook — the one that
also pushes revocations — and sends each change to every connected router as a numbered
``MODEL_EVENT``; a router gets a ``MODEL_SNAPSHOT`` when it connects and whenever it asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.model.posture_checks import checks_of_policy
from ziti_aio.controller.store.commands import Put
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model, Previous
    from ziti_aio.controller.network.routers import ConnectedRouter, Routers
    from ziti_aio.controller.store.commands import Change, Command
    from ziti_aio.wire.frame import Message

SNAPSHOT_PART_IDENTITIES = 2000
"""Identities per snapshot part or event (keeps each body well under the control channel's limit)."""
# A change to one of these can alter any identity's entry; a change to an identity, only its own.
WIDE_KINDS = frozenset({Kind.SERVICES, Kind.SERVICE_POLICIES, Kind.POSTURE_CHECKS})

AccessEntry = dict[str, Any]


def _same_roles(change: Change, previous: Previous) -> bool:
    """An update of a service or posture check that left its role attributes alone changes no grant."""
    old = previous.get((change.kind, change.id))
    return change.kind in (Kind.SERVICES, Kind.POSTURE_CHECKS) and isinstance(change, Put) and old is not None \
        and old.get("roleAttributes") == change.data.get("roleAttributes")


class RouterModelFeed:
    """The router model of ``model``, its change index, and its delivery to ``routers``."""

    def __init__(self, model: Model, routers: Routers) -> None:
        self.model = model
        self.routers = routers
        self.index = 0
        self.view: dict[str, AccessEntry] = {}
        self._gated: set[str] = self._posture_gated()
        for identity in model.all(Kind.IDENTITIES):
            self.view[identity["id"]] = self._entry(identity)
        model.add_listener(self._on_change)

    def _posture_gated(self) -> set[str]:
        """Service policies that select at least one posture check."""
        return {p["id"] for p in self.model.all(Kind.SERVICE_POLICIES) if checks_of_policy(self.model, p)}

    def _entry(self, identity: Entity) -> AccessEntry:
        sp = self.model.policy.service_policies
        granted: dict[str, set[str]] = {"Dial": set(), "Bind": set()}
        for pid in sp.policies_of(sp.left, identity["id"]):
            if pid not in self._gated:
                granted[sp.policy(pid)["type"]].update(sp.right.members.get(pid, ()))
        return {"name": identity["name"], "disabled": is_disabled(identity),
                "dial": sorted(granted["Dial"]), "bind": sorted(granted["Bind"])}

    def _on_change(self, command: Command, previous: Previous) -> None:
        kinds = {c.kind for c in command.changes if not _same_roles(c, previous)}
        if kinds & WIDE_KINDS:
            self._gated = self._posture_gated()
            ids = set(self.view) | set(self.model.entities[Kind.IDENTITIES])
        elif Kind.IDENTITIES in kinds:
            ids = {c.id for c in command.changes if c.kind == Kind.IDENTITIES}
        else:
            return
        changed: dict[str, AccessEntry | None] = {}
        for identity_id in ids:
            identity = self.model.maybe(Kind.IDENTITIES, identity_id)
            entry = None if identity is None else self._entry(identity)
            if self.view.get(identity_id) != entry:
                changed[identity_id] = entry
                if entry is None:
                    self.view.pop(identity_id, None)
                else:
                    self.view[identity_id] = entry
        items = list(changed.items())
        for start in range(0, len(items), SNAPSHOT_PART_IDENTITIES):  # a wide change: several events in a row
            self.index += 1
            event = ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=self.index,
                                 identities=dict(items[start:start + SNAPSHOT_PART_IDENTITIES]))
            for router in self.routers:
                router.push(event)

    def snapshot(self) -> list[Message]:
        """The whole model at the current index, in parts."""
        items = list(self.view.items())
        parts = max(1, -(-len(items) // SNAPSHOT_PART_IDENTITIES))
        return [ctrl.message(ctrl.CtrlType.MODEL_SNAPSHOT, index=self.index, part=n, parts=parts,
                             identities=dict(items[n * SNAPSHOT_PART_IDENTITIES:(n + 1) * SNAPSHOT_PART_IDENTITIES]))
                for n in range(parts)]

    def send_snapshot(self, router: ConnectedRouter) -> None:
        for msg in self.snapshot():
            router.push(msg)
