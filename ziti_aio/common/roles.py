"""Role attributes and policy role lists, matched exactly as OpenZiti does.

An entity carries plain ``roleAttributes``. A policy's role list holds ``#attr`` (entities
with that attribute), ``@id`` (one entity) or ``#all`` (every entity, alone in the list).
``AllOf`` needs every ``#`` attribute, ``AnyOf`` at least one; ``@`` entries match
regardless of the semantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ziti_aio.common.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

ALL = "#all"
SEMANTICS = ("AllOf", "AnyOf")
MAX_ROLE_LENGTH = 256


@dataclass(frozen=True)
class RoleSet:
    """A parsed role list: ids named with ``@``, attributes named with ``#``, and ``#all``."""

    ids: frozenset[str]
    attributes: frozenset[str]
    all: bool
    semantic: str

    def matches(self, entity_id: str, attributes: Iterable[str]) -> bool:
        """Does an entity with this id and these role attributes match?"""
        if self.all or entity_id in self.ids:
            return True
        if not self.attributes:
            return False
        have = attributes if isinstance(attributes, (set, frozenset)) else set(attributes)
        if self.semantic == "AllOf":
            return self.attributes <= have
        return not self.attributes.isdisjoint(have)


def parse_roles(roles: Sequence[str], semantic: str = "AllOf") -> RoleSet:
    """Parse a stored, already validated role list."""
    ids = frozenset(r[1:] for r in roles if r.startswith("@"))
    attrs = frozenset(r[1:] for r in roles if r.startswith("#") and r != ALL)
    return RoleSet(ids, attrs, ALL in roles, semantic)


def validate_role_attributes(field: str, value: object) -> list[str]:
    """Check an entity's ``roleAttributes``: strings, not starting with ``#`` or ``@``."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of strings", field=field, value=value)
    out: list[str] = []
    for v in value:
        if not v or v.startswith(("#", "@")) or len(v) > MAX_ROLE_LENGTH:
            raise ValidationError(
                "role attributes must be non-empty and must not start with # or @", field=field, value=v
            )
        if v not in out:
            out.append(v)
    return out


def validate_roles(field: str, value: object) -> list[str]:
    """Check a policy role list: ``#attr``/``@id`` entries, ``#all`` only alone."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of strings", field=field, value=value)
    out: list[str] = []
    for v in value:
        if len(v) < 2 or v[0] not in "#@" or len(v) > MAX_ROLE_LENGTH:
            raise ValidationError("roles must start with # or @", field=field, value=v)
        if v not in out:
            out.append(v)
    if ALL in out and len(out) > 1:
        raise ValidationError("#all must be the only role when used", field=field, value=value)
    return out


def validate_semantic(value: object) -> str:
    """``AllOf`` or ``AnyOf``; a missing semantic means ``AllOf``, as OpenZiti's store."""
    if value is None:
        return "AllOf"
    if value not in SEMANTICS:
        raise ValidationError("must be AllOf or AnyOf", field="semantic", value=value)
    return str(value)
