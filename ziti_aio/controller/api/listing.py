"""List endpoints: ZitiQL filter, sort and OpenZiti's paging rules."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import InvalidFilter, InvalidPagination
from ziti_aio.controller.model.query import parse_query, run_query
from ziti_aio.controller.model.specs import SPECS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from ziti_aio.controller.model.model import Entity

LIST_LIMIT_DEFAULT = 10
LIST_LIMIT_MAX = 500
BASE_FIELDS = ("id", "createdAt", "updatedAt")

# Filterable fields beyond a kind's writable ones, and aliases onto stored names.
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "identities": ("typeId", "isDefaultAdmin", "disabled"),
    "edge-routers": ("isVerified", "fingerprint"),
    "edge-router-policies": ("isSystem",),
    "enrollments": ("edgeRouterId", "token"),
    "authenticators": ("fingerprint",),
    "cas": ("fingerprint", "isVerified"),
    "api-sessions": ("identityId", "ipAddress", "authenticatorId", "lastActivityAt"),
    "sessions": ("identityId", "serviceId", "apiSessionId", "type"),
    "revocations": ("type", "expiresAt"),
    "circuits": ("serviceId", "clientId", "terminatorId", "sessionId", "apiSessionId"),
    "links": ("sourceRouterId", "destRouterId", "state", "cost", "staticCost", "down"),
}
ALIASES: dict[str, dict[str, str]] = {
    "identities": {"type": "typeId"},
    "terminators": {"serviceId": "service", "routerId": "router"},
}


def filterable_fields(kind: str) -> list[str]:
    spec = SPECS.get(kind)
    names = [f.name for f in spec.fields] if spec else []
    return sorted({*BASE_FIELDS, *names, *EXTRA_FIELDS.get(kind, ()), *ALIASES.get(kind, {})})


def getter_for(kind: str) -> Callable[[Entity, str], Any]:
    known = set(filterable_fields(kind))
    aliases = ALIASES.get(kind, {})

    def get(entity: Entity, field: str) -> Any:
        if field.startswith("tags."):
            return (entity.get("tags") or {}).get(field[5:])
        if field not in known:
            raise KeyError(field)
        return entity.get(aliases.get(field, field))

    return get


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidPagination(f"{name} must be an integer", field=name, value=raw) from None


def page(kind: str, items: Iterable[Entity], params: Mapping[str, str]) -> tuple[list[Entity], dict[str, Any]]:
    """Filter, sort and page ``items`` by the request's query parameters.

    Returns the page and OpenZiti's ``meta`` (pagination with an exact ``totalCount``).
    """
    query = parse_query(params.get("filter"))
    if params.get("sort") and not query.sort:
        query = replace(query, sort=parse_query(f"true sort by {params['sort']}").sort)
    known = set(filterable_fields(kind))
    for name in (*query.fields, *(f for f, _ in query.sort)):
        if name not in known and not name.startswith("tags."):
            raise InvalidFilter(f"unknown field {name!r}; filterable fields: {', '.join(sorted(known))}",
                                field="filter", value=name)
    limit = query.limit if query.limit is not None else _int_param(params, "limit")
    offset = query.skip if query.skip is not None else _int_param(params, "offset")
    if limit is None or limit == 0 or limit < -1:
        limit = LIST_LIMIT_DEFAULT
    if limit == -1 or limit > LIST_LIMIT_MAX:
        limit = LIST_LIMIT_MAX
    offset = max(offset or 0, 0)
    getter = getter_for(kind)
    matched = run_query(query, items, getter)
    if not query.sort:
        key = "name" if matched and "name" in matched[0] else "createdAt"
        matched.sort(key=lambda e: (e.get(key) is None, e.get(key) or ""))
    meta = {
        "pagination": {"limit": limit, "offset": offset, "totalCount": len(matched)},
        "filterableFields": filterable_fields(kind),
    }
    return matched[offset:offset + limit], meta

