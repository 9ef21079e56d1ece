"""Generic create/update/delete for every REST-managed kind.

A call validates the request body against the kind's :class:`EntitySpec`, lets the kind's
hooks resolve references and add dependent changes (an identity's enrollment, a deleted
service's sessions), and returns the :class:`Command` to apply. Bad input raises before any
command exists, so nothing stored changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ziti_aio.common.errors import ConflictError, ValidationError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.specs import SPECS, EntitySpec
from ziti_aio.controller.store.commands import Change, Command, Delete, Put

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

READ_ONLY = frozenset({"id", "createdAt", "updatedAt", "_links"})


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
    """Hooks for kinds that need no special rules."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        return None

    def on_create(self, model: Model, data: Entity, body: Mapping[str, Any]) -> list[Change]:
        return []

    def on_update(self, model: Model, data: Entity, old: Entity) -> list[Change]:
        return []

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        return []


def _body(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError("the request body must be a JSON object", field="body", value=None)
    return body


class Crud:
    """Builds commands for the generic REST operations of every kind in :data:`SPECS`."""

    def __init__(self, model: Model, hooks: Mapping[str, KindHooks]) -> None:
        self.model = model
        self.hooks = hooks

    def _hooks(self, kind: str) -> KindHooks:
        return self.hooks.get(kind) or NoHooks()

    def _check_name(self, spec: EntitySpec, data: Entity, own_id: str | None) -> None:
        if not spec.named:
            return
        other = self.model.names[spec.kind].get(data["name"])
        if other is not None and other != own_id:
            raise ValidationError(
                f"name must be unique: {spec.singular} {data['name']!r} already exists",
                field="name", value=data["name"],
            )

    def build_create(self, kind: str, body: Any, *, actor: str) -> tuple[Command, str]:
        """Validate a create request; returns the command and the new id."""
        spec = SPECS[kind]
        body = _body(body)
        data: Entity = {}
        for fld in spec.fields:
            if fld.name in body and body[fld.name] is not None:
                data[fld.name] = fld.check(fld.name, body[fld.name])
            elif fld.required:
                raise ValidationError("is required", field=fld.name, value=None)
            else:
                data[fld.name] = fld.default_value()
        now = now_text()
        data.update(id=new_id(), createdAt=now, updatedAt=now)
        hooks = self._hooks(kind)
        hooks.prepare(self.model, data, None)
        self._check_name(spec, data, None)
        changes: list[Change] = [Put(kind, data)]
        changes.extend(hooks.on_create(self.model, data, body))
        return Command(actor, f"create {spec.singular} {data.get('name', data['id'])}", tuple(changes)), data["id"]

    def build_update(self, kind: str, ident: str, body: Any, *, partial: bool, actor: str) -> Command:
        """Validate a PUT (``partial=False``: omitted fields reset to defaults) or PATCH."""
        spec = SPECS[kind]
        body = _body(body)
        old = self.model.get(kind, ident)
        data: Entity = dict(old)
        for fld in spec.fields:
            if fld.name in body:
                value = body[fld.name]
                if value is None and fld.required:
                    raise ValidationError("must not be null", field=fld.name, value=None)
                data[fld.name] = fld.default_value() if value is None else fld.check(fld.name, value)
            elif not partial:
                if fld.required:
                    raise ValidationError("is required", field=fld.name, value=None)
                data[fld.name] = fld.default_value()
        data["updatedAt"] = now_text()
        hooks = self._hooks(kind)
        hooks.prepare(self.model, data, old)
        self._check_name(spec, data, ident)
        changes: list[Change] = [Put(kind, data), *hooks.on_update(self.model, data, old)]
        return Command(actor, f"update {spec.singular} {ident}", tuple(changes))

    def build_delete(self, kind: str, ident: str, *, actor: str) -> Command:
        spec = SPECS.get(kind)
        entity = self.model.get(kind, ident)
        changes: list[Change] = [Delete(kind, ident)]
        changes.extend(self._hooks(kind).on_delete(self.model, entity))
        noun = spec.singular if spec else kind
        return Command(actor, f"delete {noun} {ident}", tuple(changes))


def referenced_by(model: Model, kind: str, field: str, ident: str) -> list[Entity]:
    """Entities of ``kind`` whose ``field`` (a value or a list) names ``ident``."""
    out = []
    for ent in model.all(kind):
        value = ent.get(field)
        if value == ident or (isinstance(value, list) and ident in value):
            out.append(ent)
    return out


def refuse_if_referenced(model: Model, what: str, refs: list[Entity], by: str) -> None:
    if refs:
        names = ", ".join(sorted(r.get("name", r["id"]) for r in refs)[:5])
        raise ConflictError(f"the {what} is referenced by {by}: {names}")
