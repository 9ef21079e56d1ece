"""List endpoints: ZitiQL filter, sort and OpenZiti's paging rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import InvalidFilter, InvalidPagination
from ziti_aio.controller.model.query import parse_query, run_query
from ziti_aio.controller.model.records import RECORDS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from ziti_aio.controller.kinds import Kind
    from ziti_aio.controller.model.model import Entity

LIST_LIMIT_DEFAULT = 10
LIST_LIMIT_MAX = 500
BASE_FIELDS = ("id", "createdAt", "updatedAt")


@dataclass(frozen=True)
class Filterable:
    """The fields a list's filter and sort may name (besides ``tags.*``), and filter names
    that read another stored field."""

    fields: frozenset[str]
    aliases: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, *names: str, aliases: Mapping[str, str] | None = None) -> Filterable:
        """The base fields, ``names`` and the aliases' names."""
        aliases = aliases or {}
        return cls(frozenset({*BASE_FIELDS, *names, *aliases}), aliases)

    def names(self) -> list[str]:
        return sorted(self.fields)

    def getter(self) -> Callable[[Entity, str], Any]:
        def get(entity: Entity, name: str) -> Any:
            if name.startswith("tags."):
                return (entity.get("tags") or {}).get(name[5:])
            if name not in self.fields:
                raise KeyError(name)
            return entity.get(self.aliases.get(name, name))

        return get


def filterable(kind: Kind) -> Filterable:
    """What a list of ``kind`` may filter on: its writable fields and its record's extras."""
    record = RECORDS[kind]
    return Filterable.of(*(f.name for f in record.fields), *record.filterable, aliases=record.aliases)


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidPagination(f"{name} must be an integer", field=name, value=raw) from None


def page(items: Iterable[Entity], params: Mapping[str, str], fields: Filterable) -> tuple[list[Entity], dict[str, Any]]:
    """Filter, sort and page ``items`` by the request's query parameters.

    Returns the page and OpenZiti's ``meta`` (pagination with an exact ``totalCount``).
    """
    query = parse_query(params.get("filter"))
    if params.get("sort") and not query.sort:
        query = replace(query, sort=parse_query(f"true sort by {params['sort']}").sort)
    known = fields.fields
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
    matched = run_query(query, items, fields.getter())
    if not query.sort:
        key = "name" if matched and "name" in matched[0] else "createdAt"
        matched.sort(key=lambda e: (e.get(key) is None, e.get(key) or ""))
    meta = {
        "pagination": {"limit": limit, "offset": offset, "totalCount": len(matched)},
        "filterableFields": fields.names(),
    }
    return matched[offset:offset + limit], meta

