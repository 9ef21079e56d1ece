"""The router model (docs/router-model.md): per identity its name, disabled flag and the services it may
dial and bind, as the controller's snapshot and numbered events left it.

Pure bookkeeping: parsing checks every field, so a malformed message raises
:class:`WireProtocolError` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ziti_aio.wire import ctrl
from ziti_aio.wire.errors import WireProtocolError

MAX_ID_CHARS = 64


@dataclass(frozen=True)
class Access:
    """One identity's entry."""

    name: str
    disabled: bool
    dial: frozenset[str]
    bind: frozenset[str]

    def allows(self, service_id: str, session_type: str) -> bool:
        return not self.disabled and service_id in (self.dial if session_type == "Dial" else self.bind)


def _entry(identity_id: Any, raw: Any) -> Access | None:
    if not isinstance(identity_id, str) or not 0 < len(identity_id) <= MAX_ID_CHARS:
        raise WireProtocolError("router model: bad identity id")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("disabled"), bool):
        raise WireProtocolError(f"router model: bad entry for identity {identity_id}")
    return Access(ctrl.string(raw, "name", max_length=1024), raw["disabled"],
                  frozenset(ctrl.string_list(raw, "dial")), frozenset(ctrl.string_list(raw, "bind")))


def _entries(data: dict[str, Any]) -> dict[str, Access | None]:
    raw = data.get("identities")
    if not isinstance(raw, dict):
        raise WireProtocolError("router model: 'identities' must be an object")
    return {identity_id: _entry(identity_id, value) for identity_id, value in raw.items()}


class AccessModel:
    """The model at ``index``; ``ready`` once a whole snapshot arrived (until then nothing is allowed)."""

    def __init__(self) -> None:
        self.index = 0
        self.ready = False
        self.identities: dict[str, Access] = {}
        self._pending: dict[str, Access] = {}
        self._pending_index = -1
        self._next_part = 0
        self.asked = False  # a snapshot was asked for and has not arrived yet

    def allows(self, identity_id: str, service_id: str, session_type: str) -> bool:
        """May ``identity_id`` dial (``"Dial"``) or bind (``"Bind"``) ``service_id``?"""
        access = self.identities.get(identity_id)
        return self.ready and access is not None and access.allows(service_id, session_type)

    def take_snapshot_part(self, data: dict[str, Any]) -> set[str] | None:
        """One part of a snapshot; when it completes the snapshot, the ids whose entry changed (else ``None``).
        A part out of order is a :class:`WireProtocolError` and drops what was collected."""
        index = ctrl.integer(data, "index", low=0, high=2**62)
        parts = ctrl.integer(data, "parts", low=1, high=1_000_000)
        part = ctrl.integer(data, "part", low=0, high=parts - 1)
        entries = _entries(data)
        if part == 0:
            self._pending, self._pending_index, self._next_part = {}, index, 0
        if part != self._next_part or index != self._pending_index:
            self._pending, self._pending_index, self._next_part = {}, -1, 0
            raise WireProtocolError(f"router model: snapshot part {part} of index {index} out of order")
        self._pending.update({k: v for k, v in entries.items() if v is not None})
        self._next_part += 1
        if self._next_part < parts:
            return None
        old, self.identities = self.identities, self._pending
        self.index, self.ready, self.asked = index, True, False
        self._pending, self._pending_index, self._next_part = {}, -1, 0
        return {k for k in old.keys() | self.identities.keys() if old.get(k) != self.identities.get(k)}

    def take_event(self, data: dict[str, Any]) -> set[str] | None:
        """One change event: the ids whose entry it changed, or ``None`` for a gap in the numbering (the
        caller asks for a snapshot). An event the model already has changes nothing."""
        index = ctrl.integer(data, "index", low=1, high=2**62)
        entries = _entries(data)
        if not self.ready or index > self.index + 1:
            return None
        if index <= self.index:
            return set()
        for identity_id, access in entries.items():
            if access is None:
                self.identities.pop(identity_id, None)
            else:
                self.identities[identity_id] = access
        self.index = index
        return set(entries)
