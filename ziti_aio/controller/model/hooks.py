"""Kind-specific rules around the generic create, update and delete (see :mod:`.records`).

A kind's record names its hooks class; :class:`~ziti_aio.controller.model.crud.Crud` makes one
instance per kind with the :class:`RuleDeps` of the running controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ziti_aio.controller.model.enrollment_issuer import EnrollmentIssuer
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.controller.store.commands import Change


@dataclass(frozen=True)
class RuleDeps:
    """What kind rules need from the running controller."""

    issuer: EnrollmentIssuer
    hash_password: Callable[[str], str]


class KindHooks(Protocol):
    """Kind-specific rules around the generic operations."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        """Resolve references and check cross-field rules on ``data`` (mutable)."""

    def on_create(self, model: Model, data: Entity, body: Mapping[str, Any]) -> list[Change]:
        """Changes to apply together with the creation."""

    def on_update(self, model: Model, data: Entity, old: Entity) -> list[Change]:
        """Changes to apply together with an update (``data`` already prepared)."""

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        """Changes to apply together with the deletion (cascades); raise to refuse."""


class NoHooks:
    """Hooks for kinds that need no special rules; the base of every hooks class."""

    def __init__(self, deps: RuleDeps) -> None:
        self.deps = deps

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        return None

    def on_create(self, model: Model, data: Entity, body: Mapping[str, Any]) -> list[Change]:
        return []

    def on_update(self, model: Model, data: Entity, old: Entity) -> list[Change]:
        return []

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        return []
