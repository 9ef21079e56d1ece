"""Command objects: the only way stored state changes.

A command names who asked, why, and the entity puts and deletes it makes. It is plain data
(JSON-serialisable), so a replicated log can carry it unchanged between controllers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ziti_aio.controller.kinds import Kind


@dataclass(frozen=True)
class Put:
    """Create or replace one entity of ``kind`` with ``data`` (which holds ``id``)."""

    kind: Kind
    data: dict[str, Any]

    @property
    def id(self) -> str:
        ident: str = self.data["id"]
        return ident


@dataclass(frozen=True)
class Delete:
    """Remove one entity of ``kind``; deleting a missing one is a no-op."""

    kind: Kind
    id: str


Change = Put | Delete


@dataclass(frozen=True)
class Command:
    """One atomic mutation: all changes are applied together or not at all."""

    actor: str
    reason: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """Serialise for a replication log."""
        return json.dumps(
            {
                "actor": self.actor,
                "reason": self.reason,
                "changes": [
                    {"op": "put", "kind": c.kind, "data": c.data}
                    if isinstance(c, Put)
                    else {"op": "delete", "kind": c.kind, "id": c.id}
                    for c in self.changes
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Command:
        """Inverse of :meth:`to_json`; an unknown kind is a :class:`ValueError`."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Command:
        """A command from :meth:`to_json`'s JSON, already parsed."""
        changes: list[Change] = []
        for c in raw["changes"]:
            if c["op"] == "put":
                changes.append(Put(Kind(c["kind"]), c["data"]))
            else:
                changes.append(Delete(Kind(c["kind"]), c["id"]))
        return cls(raw["actor"], raw["reason"], tuple(changes))
