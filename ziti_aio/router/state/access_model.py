"""The router model (docs/router-model.md): per identity its name, disabled flag, the services it may
dial and bind, and those it may only through posture-checked policies (each policy's check ids); per API
session the checks its posture passes — as the controller's snapshot and numbered events left it.

Pure bookkeeping: parsing checks every field, so a malformed message raises
:class:`WireProtocolError` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ziti_aio.wire import ctrl
from ziti_aio.wire.errors import WireProtocolError

MAX_ID_CHARS = 64

Checks = Mapping[str, tuple[frozenset[str], ...]]
"""Per service, the check ids of each posture-checked policy granting it."""
NO_CHECKS: Checks = MappingProxyType({})  # shared: most entries have none, and a snapshot makes thousands


@dataclass(frozen=True, slots=True)
class Access:
    """One identity's entry."""

    name: str
    disabled: bool
    dial: frozenset[str]
    bind: frozenset[str]
    dial_checks: Checks
    bind_checks: Checks

    def allows(self, service_id: str, session_type: str, passing: frozenset[str]) -> bool:
        """A policy without checks grants it, or one whose checks are all among ``passing`` (docs/posture.md §3.1)."""
        if self.disabled:
            return False
        free, checked = (self.dial, self.dial_checks) if session_type == "Dial" else (self.bind, self.bind_checks)
        return service_id in free or any(checks <= passing for checks in checked.get(service_id, ()))


@dataclass(frozen=True)
class SessionPosture:
    """One API session's posture: the checks it passes now, as the controller evaluated them."""

    identity_id: str
    passing: frozenset[str]


def _id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise WireProtocolError(f"router model: bad {what} id")
    return value


def _checks(identity_id: str, raw: Any) -> Checks:
    if not isinstance(raw, dict):
        raise WireProtocolError(f"router model: bad posture checks for identity {identity_id}")
    out = {}
    for service_id, policies in raw.items():
        if not isinstance(policies, list) or not all(
                isinstance(p, list) and all(isinstance(c, str) for c in p) for p in policies):
            raise WireProtocolError(f"router model: bad posture checks for identity {identity_id}")
        out[_id("service", service_id)] = tuple(frozenset(p) for p in policies)
    return out


def _entry(identity_id: Any, raw: Any) -> Access | None:
    if not isinstance(identity_id, str) or not 0 < len(identity_id) <= MAX_ID_CHARS:
        raise WireProtocolError("router model: bad identity id")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("disabled"), bool):
        raise WireProtocolError(f"router model: bad entry for identity {identity_id}")
    dial_checks, bind_checks = raw.get("dialChecks"), raw.get("bindChecks")
    return Access(ctrl.string(raw, "name", max_length=1024), raw["disabled"],
                  frozenset(ctrl.string_list(raw, "dial")), frozenset(ctrl.string_list(raw, "bind")),
                  NO_CHECKS if dial_checks is None else _checks(identity_id, dial_checks),
                  NO_CHECKS if bind_checks is None else _checks(identity_id, bind_checks))


def _posture(api_session_id: Any, raw: Any) -> SessionPosture | None:
    api_session_id = _id("API session", api_session_id)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise WireProtocolError(f"router model: bad posture of API session {api_session_id}")
    return SessionPosture(_id("identity", raw.get("identityId")), frozenset(ctrl.string_list(raw, "passing")))


def _entries(data: dict[str, Any]) -> tuple[dict[str, Access | None], dict[str, SessionPosture | None]]:
    identities, postures = data.get("identities"), data.get("postures", {})
    if not isinstance(identities, dict) or not isinstance(postures, dict):
        raise WireProtocolError("router model: 'identities' and 'postures' must be objects")
    return ({k: _entry(k, v) for k, v in identities.items()}, {k: _posture(k, v) for k, v in postures.items()})


class AccessModel:
    """The model at ``index``; ``ready`` once a whole snapshot arrived (until then nothing is allowed)."""

    def __init__(self) -> None:
        self.index = 0
        self.ready = False
        self.identities: dict[str, Access] = {}
        self.postures: dict[str, SessionPosture] = {}
        self._pending: dict[str, Access] = {}
        self._pending_postures: dict[str, SessionPosture] = {}
        self._pending_index = -1
        self._next_part = 0
        self.asked = False  # a snapshot was asked for and has not arrived yet

    def allows(self, identity_id: str, service_id: str, session_type: str, api_session_id: str = "") -> bool:
        """May ``identity_id`` dial (``"Dial"``) or bind (``"Bind"``) ``service_id``, its posture that of
        ``api_session_id``?"""
        access = self.identities.get(identity_id)
        if not self.ready or access is None:
            return False
        posture = self.postures.get(api_session_id)
        passing = posture.passing if posture is not None and posture.identity_id == identity_id else frozenset()
        return access.allows(service_id, session_type, passing)

    def take_snapshot_part(self, data: dict[str, Any]) -> set[str] | None:
        """One part of a snapshot; when it completes the snapshot, the ids whose entry changed (else ``None``).
        A part out of order is a :class:`WireProtocolError` and drops what was collected."""
        index = ctrl.integer(data, "index", low=0, high=2**62)
        parts = ctrl.integer(data, "parts", low=1, high=1_000_000)
        part = ctrl.integer(data, "part", low=0, high=parts - 1)
        entries, postures = _entries(data)
        if part == 0:
            self._reset_pending(index)
        if part != self._next_part or index != self._pending_index:
            self._reset_pending(-1)
            raise WireProtocolError(f"router model: snapshot part {part} of index {index} out of order")
        self._pending.update({k: v for k, v in entries.items() if v is not None})
        self._pending_postures.update({k: v for k, v in postures.items() if v is not None})
        self._next_part += 1
        if self._next_part < parts:
            return None
        old, self.identities = self.identities, self._pending
        old_postures, self.postures = self.postures, self._pending_postures
        self.index, self.ready, self.asked = index, True, False
        self._reset_pending(-1)
        changed = {k for k in old.keys() | self.identities.keys() if old.get(k) != self.identities.get(k)}
        return changed | _identities_of(old_postures, self.postures)

    def _reset_pending(self, index: int) -> None:
        self._pending, self._pending_postures, self._pending_index, self._next_part = {}, {}, index, 0

    def take_event(self, data: dict[str, Any]) -> set[str] | None:
        """One change event: the ids whose entry it changed, or ``None`` for a gap in the numbering (the
        caller asks for a snapshot). An event the model already has changes nothing."""
        index = ctrl.integer(data, "index", low=1, high=2**62)
        entries, postures = _entries(data)
        if not self.ready or index > self.index + 1:
            return None
        if index <= self.index:
            return set()
        for identity_id, access in entries.items():
            if access is None:
                self.identities.pop(identity_id, None)
            else:
                self.identities[identity_id] = access
        old_postures = {k: self.postures[k] for k in postures if k in self.postures}
        for api_session_id, posture in postures.items():
            if posture is None:
                self.postures.pop(api_session_id, None)
            else:
                self.postures[api_session_id] = posture
        self.index = index
        new_postures = {k: self.postures[k] for k in postures if k in self.postures}
        return set(entries) | _identities_of(old_postures, new_postures)


def _identities_of(old: dict[str, SessionPosture], new: dict[str, SessionPosture]) -> set[str]:
    """The identities whose API sessions' posture differs between ``old`` and ``new``."""
    return {p.identity_id for k in old.keys() | new.keys() if old.get(k) != new.get(k)
            for p in (old.get(k), new.get(k)) if p is not None}
