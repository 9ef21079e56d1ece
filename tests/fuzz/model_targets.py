"""Fuzz targets of the controller model's input languages: ZitiQL filters and config data / config-type schemas.

tests/unit/controller covers random filter text against fixed entities; here filters, including
grammar-built ones with hostile literals, run against entities with random field values, and
config data is drawn from each built-in schema's own vocabulary of property names and literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import cache
from typing import Any

from hypothesis import strategies as st

from ziti_aio.common.errors import InvalidFilter, ValidationError
from ziti_aio.controller.model.config_types import (
    BUILTIN_CONFIG_TYPES,
    check_schema,
    validate_config_data,
)
from ziti_aio.controller.model.query import parse_query, run_query

from .strategies import json_scalars, json_values, mutated_json, mutated_text

# --- ZitiQL ------------------------------------------------------------------------------------

FIELDS = ("name", "port", "weight", "enabled", "tags", "createdAt", "owner.name")
LITERALS = (
    '"web"', '""', '"a\\"b"', '"\\u00e9"', "0", "-0", "80", "-2.5", "1e3", "1e999", "-1e999", "1e-999",
    "123456789012345678901234567890", "true", "false", "null",
    "datetime(2021-01-01T00:00:00Z)", "datetime(9999-12-31T23:59:59Z)", "datetime(0001-01-01T00:00:00+14:00)",
    "datetime(2020-06-01T12:30:00.25+02:00)", "datetime(2020-02-30T00:00:00Z)",
)  # fmt: skip
TOKENS = (
    *FIELDS, *LITERALS, "=", "!=", "<", "<=", ">", ">=", "(", ")", "[", "]", ",", "and", "or", "not",
    "contains", "icontains", "in", "between", "anyOf(", "allOf(", "count(", "isEmpty(", "sort", "by",
    "asc", "desc", "skip", "limit", "none", "-1", "4096", "99999999999999999999",
)  # fmt: skip
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
DATETIMES = st.datetimes() | st.datetimes(timezones=OFFSETS)
FIELD_VALUES = st.one_of(
    json_scalars(hostile=True),
    DATETIMES,
    st.sampled_from(("2021-01-01T00:00:00Z", "2020-02-30T00:00:00Z", "not a date", "9999-12-31T23:59:59-23:59")),
    st.lists(st.none() | st.text(max_size=8) | st.integers() | st.floats() | DATETIMES, max_size=4),
    st.tuples(st.text(max_size=8), st.integers()),
)


@dataclass(frozen=True)
class QueryCase:
    """Filter ``text`` run over ``entities``; ``predicate``: the grammar-built condition inside it, if any."""

    text: str
    entities: tuple[dict[str, Any], ...]
    predicate: str | None


@st.composite
def _predicates(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 3 else 1))
    if choice == 0:
        lhs = draw(st.sampled_from(FIELDS) | st.sampled_from(FIELDS).map(lambda f: f"anyOf({f})")
                   | st.sampled_from(FIELDS).map(lambda f: f"allOf({f})"))
        op = draw(st.sampled_from(("=", "!=", "<", "<=", ">", ">=", "contains", "icontains", "not contains", "in",
                                   "not in", "between", "not between")))
        a, b = draw(st.sampled_from(LITERALS)), draw(st.sampled_from(LITERALS))
        if op.endswith("in"):
            return f"{lhs} {op} [{a}, {b}]"
        if op.endswith("between"):
            return f"{lhs} {op} {a} and {b}"
        return f"{lhs} {op} {a}"
    if choice == 1:
        field = draw(st.sampled_from(FIELDS))
        return draw(st.sampled_from((f"isEmpty({field})", f"count({field}) > 1", field, "true", "false")))
    if choice == 2:
        return f"not {draw(_predicates(depth + 1))}"
    if choice == 3:
        return f"({draw(_predicates(depth + 1))})"
    joiner = " and " if choice == 4 else " or "
    return joiner.join(draw(st.lists(_predicates(depth + 1), min_size=2, max_size=3)))


@st.composite
def query_cases(draw: st.DrawFn) -> QueryCase:
    entities = tuple(draw(st.lists(st.fixed_dictionaries({f: FIELD_VALUES for f in FIELDS}), max_size=5)))
    kind = draw(st.sampled_from(("grammar", "tokens", "mutated", "text")))
    if kind == "grammar":
        predicate = draw(_predicates())
        suffix = draw(st.sampled_from(("", " sort by name", " sort by createdAt desc, port asc skip 1 limit none")))
        return QueryCase(predicate + suffix, entities, predicate)
    if kind == "tokens":
        return QueryCase(" ".join(draw(st.lists(st.sampled_from(TOKENS), max_size=30))), entities, None)
    if kind == "mutated":
        return QueryCase(draw(_predicates().flatmap(mutated_text)), entities, None)
    return QueryCase(draw(st.text(max_size=120)), entities, None)


def _get(entity: dict[str, Any], field: str) -> Any:
    return entity[field]


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [id(item) for item in items]


def check_query(case: QueryCase) -> None:
    """Only InvalidFilter; the result is a subset of the entities (in order when unsorted); a
    grammar-built condition and its negation split the entities between them."""
    entities = list(case.entities)
    try:
        query = parse_query(case.text)
        selected = run_query(query, entities, _get)
    except InvalidFilter:
        return
    assert sorted(_ids(selected)) == sorted(set(_ids(selected))) and set(_ids(selected)) <= set(_ids(entities))
    if not query.sort:
        assert _ids(selected) == [i for i in _ids(entities) if i in set(_ids(selected))]
    if case.predicate is not None:
        plain = run_query(parse_query(case.predicate), entities, _get)
        negated = run_query(parse_query(f"not ({case.predicate})"), entities, _get)
        assert sorted(_ids(plain + negated)) == sorted(_ids(entities)), "a condition and its negation overlap"


# --- config data and config-type schemas -------------------------------------------------------


def _vocabulary(schema: Any, names: set[str], literals: list[Any]) -> None:
    """Collect the property names and literal values (enums, consts, bounds +-1) found in ``schema``."""
    if isinstance(schema, list):
        for item in schema:
            _vocabulary(item, names, literals)
        return
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            names.update(value)
        if key in ("enum", "examples") and isinstance(value, list):
            literals.extend(value)
        elif key in ("const", "default"):
            literals.append(value)
        elif key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems") and isinstance(
            value, int | float
        ):
            literals.extend((value - 1, value, value + 1))
        _vocabulary(value, names, literals)


def _vocabulary_strategies(schema: Any) -> tuple[st.SearchStrategy[str], st.SearchStrategy[Any]]:
    """Keys and leaf values drawn from ``schema``'s vocabulary (leaves also from any JSON scalar)."""
    names: set[str] = set()
    literals: list[Any] = ["tcp", "udp", "", "localhost", "10.0.0.0/8", "*.ziti", "1s", 80, 65536, -1]
    _vocabulary(schema, names, literals)
    keys = st.sampled_from(sorted(names)) if names else st.text(max_size=8)
    return keys, st.sampled_from(literals) | json_scalars()


def schema_guided_values(schema: Any) -> st.SearchStrategy[Any]:
    """JSON objects built from ``schema``'s own property names and literals, so validation gets deep."""
    keys, leaves = _vocabulary_strategies(schema)
    values = st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=6), max_leaves=20
    )
    return st.dictionaries(keys, values, max_size=8)


SCHEMAS = {t.name: t.schema for t in BUILTIN_CONFIG_TYPES}
_HOST = {"protocol": "tcp", "address": "localhost", "port": 8080}
VALID_DATA = {
    "intercept.v1": {
        "protocols": ["tcp", "udp"], "addresses": ["echo.ziti", "*.ziti", "10.0.0.0/8"],
        "portRanges": [{"low": 1, "high": 1024}], "dialOptions": {"identity": "$dst_ip", "connectTimeoutSeconds": 15},
        "sourceIp": "$src_ip:$src_port", "allowedSourceAddresses": ["100.64.0.0/10"],
    },
    "host.v1": {
        **_HOST, "allowedSourceAddresses": ["10.0.0.0/8"],
        "listenOptions": {"bindUsingEdgeIdentity": True, "connectTimeout": "5s", "cost": 10, "precedence": "required"},
        "portChecks": [{"interval": "5s", "timeout": "1s", "address": "localhost:8080"}],
        "httpChecks": [{"url": "http://localhost:8080/health", "method": "GET", "interval": "5s", "timeout": "1s",
                        "expectStatus": 200,
                        "actions": [{"trigger": "fail", "consecutiveEvents": 3, "action": "mark unhealthy"}]}],
    },
    "host.v2": {"terminators": [_HOST, {"protocol": "udp", "address": "10.0.0.5", "port": 53}]},
    "ziti-tunneler-client.v1": {"hostname": "echo.ziti", "port": 80},
    "ziti-tunneler-server.v1": {"hostname": "localhost", "port": 8080, "protocol": "tcp"},
    "proxy.v1": {"port": 8080, "protocols": ["tcp"], "binding": "edge"},
}  # fmt: skip


def _edited(name: str) -> st.SearchStrategy[Any]:
    keys, leaves = _vocabulary_strategies(SCHEMAS[name])
    return mutated_json(VALID_DATA[name], keys, leaves | json_values(max_leaves=4))


def config_data_cases() -> st.SearchStrategy[tuple[str, Any]]:
    """``(config type name, data)``: a valid document of that type, edited; data shaped by its schema;
    or any JSON value."""
    return st.one_of(
        *(st.tuples(st.just(name), _edited(name)) for name in SCHEMAS),
        *(st.tuples(st.just(name), schema_guided_values(schema)) for name, schema in SCHEMAS.items()),
        st.tuples(st.sampled_from(sorted(SCHEMAS)), json_values(hostile=True)),
    )


def check_config_data(case: tuple[str, Any]) -> None:
    """Only ValidationError, naming a field under ``data``; what is accepted is an object."""
    name, data = case
    try:
        validate_config_data(SCHEMAS[name], data)
    except ValidationError as exc:
        assert exc.field is not None and exc.field.startswith("data") and isinstance(exc.message, str)
        return
    assert isinstance(data, dict)


_SAFE_PATTERNS = ("^[a-z]+$", "^\\d{1,5}$", "[", "(?P<x>a)", "^(tcp|udp)$", "\\p{L}", "a{2,}", "")
_FORMATS = ("date", "email", "idn-email", "ipv4", "ipv6", "uuid", "regex", "hostname", "idn-hostname", "nope")
_REFS = ("#", "#/definitions/a", "#/properties/a", "#/nope", "other.json", "http://example.invalid/s.json", "#a")
_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null", "nope")


@cache
def _keywords(depth: int) -> dict[str, st.SearchStrategy[Any]]:
    sub = _schemas(depth + 1) if depth < 3 else st.booleans()
    number = st.integers(-3, 70000) | st.floats(allow_nan=False) | st.sampled_from((1e-300, 0, 0.1, 2**64))
    return {
        "type": st.sampled_from(_TYPES) | st.lists(st.sampled_from(_TYPES), max_size=3),
        "properties": st.dictionaries(st.sampled_from(("a", "b", "port", "")), sub, max_size=3),
        "patternProperties": st.dictionaries(st.sampled_from(_SAFE_PATTERNS), sub, max_size=2),
        "additionalProperties": sub,
        "required": st.lists(st.sampled_from(("a", "b", "port")), max_size=3) | json_scalars(),
        "definitions": st.dictionaries(st.sampled_from(("a", "b")), sub, max_size=2),
        "items": sub | st.lists(sub, max_size=2),
        "additionalItems": sub,
        "contains": sub,
        "propertyNames": sub,
        "not": sub,
        "if": sub,
        "then": sub,
        "else": sub,
        "allOf": st.lists(sub, max_size=3),
        "anyOf": st.lists(sub, max_size=3),
        "oneOf": st.lists(sub, max_size=3),
        "dependencies": st.dictionaries(st.sampled_from(("a", "b")), sub | st.lists(st.sampled_from(("a", "b")))),
        "enum": st.lists(json_values(max_leaves=4), max_size=3),
        "const": json_values(max_leaves=4),
        "pattern": st.sampled_from(_SAFE_PATTERNS),
        "format": st.sampled_from(_FORMATS),
        "$ref": st.sampled_from(_REFS),
        "$id": st.sampled_from(("http://example.invalid/root.json", "#a", "urn:x")),
        "uniqueItems": st.booleans(),
        **{k: number for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                               "minLength", "maxLength", "minItems", "maxItems", "minProperties")},
    }  # fmt: skip


@st.composite
def _schemas(draw: st.DrawFn, depth: int = 0) -> Any:
    """Draft-07 schemas from the keywords config types use, with values right and wrong; patterns stay
    linear (an exponential pattern is a documented limit: only admins write schemas)."""
    keywords = _keywords(depth)
    chosen = draw(st.lists(st.sampled_from(sorted(keywords)), unique=True, max_size=5 if depth else 7))
    schema = {key: draw(keywords[key]) for key in chosen}
    if depth == 0 and draw(st.booleans()):
        schema["type"] = "object"
    return schema


def config_schema_cases() -> st.SearchStrategy[tuple[Any, Any]]:
    """``(schema, data)``: a random schema and data shaped by its vocabulary."""
    return _schemas().flatmap(lambda s: st.tuples(st.just(s), _flat_guided_values(s) | json_values(hostile=True)))


def _flat_guided_values(schema: Any) -> st.SearchStrategy[Any]:
    keys, leaves = _vocabulary_strategies(schema)
    return st.dictionaries(keys, leaves | st.lists(leaves, max_size=3) | st.dictionaries(keys, leaves), max_size=6)


def check_config_schema(case: tuple[Any, Any]) -> None:
    """Only ValidationError from checking a schema, and from validating data against one that passed."""
    schema, data = case
    try:
        check_schema(schema)
    except ValidationError as exc:
        assert exc.field == "schema"
        return
    try:
        validate_config_data(schema, data)
    except ValidationError:
        return
    assert isinstance(data, dict)
