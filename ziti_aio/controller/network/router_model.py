"""The router model: what each router needs to authorize dials and binds itself (docs/router-model.md).

For every identity: its name, whether it is disabled, the services it may dial and bind through a
service policy without posture checks, and for the services only posture-checked policies grant, each
such policy's check ids. For every API session of an identity with such grants: the ids of those checks
its posture passes now (``postures``), which the controller evaluates from the SDK's posture responses and
the session's MFA state (docs/posture.md §3). The feed keeps that view current from the model's change
hook — the one that also pushes revocations — and from the posture responses and sweep, and sends each
change to every connected router as a numbered ``MODEL_EVENT``; a router gets a ``MODEL_SNAPSHOT`` when it
connects and whenever it asks.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.model.posture_checks import checks_of_policy
from ziti_aio.controller.model.posture_eval import check_failure
from ziti_aio.controller.store.commands import Put
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model, Previous
    from ziti_aio.controller.model.posture import Posture
    from ziti_aio.controller.network.routers import ConnectedRouter, Routers
    from ziti_aio.controller.store.commands import Change, Command
    from ziti_aio.wire.frame import Message

SNAPSHOT_PART_ENTRIES = 2000
"""Identities (and API sessions' postures) per snapshot part or event (keeps each body well under the
control channel's limit)."""
# A change to one of these can alter any identity's entry; a change to an identity, only its own.
WIDE_KINDS = frozenset({Kind.SERVICES, Kind.SERVICE_POLICIES, Kind.POSTURE_CHECKS})

AccessEntry = dict[str, Any]
PostureEntry = dict[str, Any]


def _same_roles(change: Change, previous: Previous) -> bool:
    """An update of a service or posture check that left its role attributes alone changes no grant."""
    old = previous.get((change.kind, change.id))
    return change.kind in (Kind.SERVICES, Kind.POSTURE_CHECKS) and isinstance(change, Put) and old is not None \
        and old.get("roleAttributes") == change.data.get("roleAttributes")


def _checked(entry: AccessEntry | None) -> set[str]:
    """The posture check ids an identity's entry depends on."""
    if entry is None:
        return set()
    return {c for key in ("dialChecks", "bindChecks") for policies in entry.get(key, {}).values()
            for checks in policies for c in checks}


class RouterModelFeed:
    """The router model of ``model``, its change index, and its delivery to ``routers``."""

    def __init__(self, model: Model, routers: Routers) -> None:
        self.model = model
        self.routers = routers
        self.index = 0
        self.view: dict[str, AccessEntry] = {}
        self.postures: dict[str, PostureEntry] = {}
        self.posture: Posture | None = None
        self._checks_of: dict[str, list[str]] = self._policy_checks()
        for identity in model.all(Kind.IDENTITIES):
            self.view[identity["id"]] = self._entry(identity)
        model.add_listener(self._on_change)

    def watch_posture(self, posture: Posture) -> None:
        """Follow the API sessions' posture data (responses, and the sweep's MFA timeouts)."""
        self.posture = posture
        posture.listeners.append(self._on_posture)
        self._publish({}, self._recompute_postures(None))

    # --- the view -----------------------------------------------------------------------------

    def _policy_checks(self) -> dict[str, list[str]]:
        """Per service policy that selects posture checks, their ids."""
        out = {}
        for policy in self.model.all(Kind.SERVICE_POLICIES):
            checks = checks_of_policy(self.model, policy)
            if checks:
                out[policy["id"]] = sorted(c["id"] for c in checks)
        return out

    def _entry(self, identity: Entity) -> AccessEntry:
        sp = self.model.policy.service_policies
        granted: dict[str, set[str]] = {"Dial": set(), "Bind": set()}
        gated_policies = []
        for pid in sp.policies_of(sp.left, identity["id"]):
            if pid in self._checks_of:
                gated_policies.append(pid)
            else:
                granted[sp.policy(pid)["type"]].update(sp.right.members.get(pid, ()))
        entry: AccessEntry = {"name": identity["name"], "disabled": is_disabled(identity),
                              "dial": sorted(granted["Dial"]), "bind": sorted(granted["Bind"])}
        if gated_policies:  # left out otherwise: a network without posture checks sends what it always did
            gated: dict[str, dict[str, list[list[str]]]] = {"Dial": {}, "Bind": {}}
            for pid in sorted(gated_policies):
                kind = sp.policy(pid)["type"]
                for service_id in sp.right.members.get(pid, ()):
                    if service_id not in granted[kind]:
                        gated[kind].setdefault(service_id, []).append(self._checks_of[pid])
            for kind, key in (("Dial", "dialChecks"), ("Bind", "bindChecks")):
                if gated[kind]:
                    entry[key] = dict(sorted(gated[kind].items()))
        return entry

    def _posture_entry(self, api_session: Entity, now: float) -> PostureEntry | None:
        """Which of the checks its identity's grants depend on the API session passes (``None``: none apply)."""
        checks = _checked(self.view.get(api_session["identityId"]))
        if not checks or self.posture is None:
            return None
        data = self.posture.data_of(api_session)
        passing = [c for c in sorted(checks) if (check := self.model.maybe(Kind.POSTURE_CHECKS, c)) is not None
                   and check_failure(check, data, api_session, now) is None]
        return {"identityId": api_session["identityId"], "passing": passing}

    def _recompute_postures(self, api_session_ids: set[str] | None) -> dict[str, PostureEntry | None]:
        """Recompute the posture entries of ``api_session_ids`` (``None``: every API session); the changed ones."""
        if api_session_ids is None:
            if not self.postures and not self._checks_of:
                return {}  # no posture-checked grant anywhere: nothing to evaluate
            api_session_ids = set(self.postures) | set(self.model.entities[Kind.API_SESSIONS])
        now = time.time()
        changed: dict[str, PostureEntry | None] = {}
        for asid in api_session_ids:
            api_session = self.model.maybe(Kind.API_SESSIONS, asid)
            entry = None if api_session is None else self._posture_entry(api_session, now)
            if self.postures.get(asid) != entry:
                changed[asid] = entry
                if entry is None:
                    self.postures.pop(asid, None)
                else:
                    self.postures[asid] = entry
        return changed

    # --- changes ------------------------------------------------------------------------------

    def _on_change(self, command: Command, previous: Previous) -> None:
        all_kinds = {c.kind for c in command.changes}
        kinds = {c.kind for c in command.changes if not _same_roles(c, previous)}
        if kinds & WIDE_KINDS:
            self._checks_of = self._policy_checks()
            ids = set(self.view) | set(self.model.entities[Kind.IDENTITIES])
        elif Kind.IDENTITIES in kinds:
            ids = {c.id for c in command.changes if c.kind == Kind.IDENTITIES}
        else:
            ids = set()
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
        if Kind.POSTURE_CHECKS in all_kinds:  # a check's parameters decide what passes, even with the same roles
            sessions: set[str] | None = None
        else:
            sessions = {c.id for c in command.changes if c.kind == Kind.API_SESSIONS}
            if changed and (self.postures or self._checks_of):  # their identities' grants may need other checks
                sessions |= {a for a, p in self.postures.items() if p["identityId"] in changed}
                for identity_id in changed:
                    sessions |= {a["id"] for a in self.model.owned_by(Kind.API_SESSIONS, identity_id)}
        self._publish(changed, self._recompute_postures(sessions) if sessions != set() else {})

    def _on_posture(self, api_session_id: str | None) -> None:
        """An API session's posture data changed (``None``: time passed, every session may have)."""
        self._publish({}, self._recompute_postures(None if api_session_id is None else {api_session_id}))

    def _publish(self, identities: dict[str, AccessEntry | None], postures: dict[str, PostureEntry | None]) -> None:
        """Number and send the changes; a wide change goes as several events in a row."""
        items = [("identities", k, v) for k, v in identities.items()]
        items += [("postures", k, v) for k, v in postures.items()]
        for start in range(0, len(items), SNAPSHOT_PART_ENTRIES):
            self.index += 1
            chunk = items[start:start + SNAPSHOT_PART_ENTRIES]
            event = ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=self.index,
                                 identities={k: v for key, k, v in chunk if key == "identities"},
                                 postures={k: v for key, k, v in chunk if key == "postures"})
            for router in self.routers:
                router.push(event)

    # --- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> list[Message]:
        """The whole model at the current index, in parts."""
        identities, postures = list(self.view.items()), list(self.postures.items())
        parts = max(1, -(-max(len(identities), len(postures)) // SNAPSHOT_PART_ENTRIES))
        return [ctrl.message(ctrl.CtrlType.MODEL_SNAPSHOT, index=self.index, part=n, parts=parts,
                             identities=dict(identities[n * SNAPSHOT_PART_ENTRIES:(n + 1) * SNAPSHOT_PART_ENTRIES]),
                             postures=dict(postures[n * SNAPSHOT_PART_ENTRIES:(n + 1) * SNAPSHOT_PART_ENTRIES]))
                for n in range(parts)]

    def send_snapshot(self, router: ConnectedRouter) -> None:
        for msg in self.snapshot():
            router.push(msg)
