"""ZitiQL parser and evaluator: operators, precedence, sorting, paging clauses, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ziti_aio.common.errors import InvalidFilter
from ziti_aio.controller.model.query import MAX_NESTING_DEPTH, Query, parse_query, run_query
from ziti_aio.controller.model.query_lexer import MAX_QUERY_CHARS

UTC = UTC

ENTITIES: list[dict[str, Any]] = [
    {
        "name": "web1", "port": 80, "weight": 1.5, "enabled": True,
        "roleAttributes": ["web", "public"], "createdAt": datetime(2020, 1, 1, tzinfo=UTC),
        "updatedAt": "2021-06-01T00:00:00Z", "description": "Front door", "owner.name": "ops",
    },
    {
        "name": "Web2", "port": 443, "weight": 2, "enabled": False,
        "roleAttributes": ("web",), "createdAt": datetime(2021, 1, 1),
        "updatedAt": "2022-01-01T00:00:00.5Z", "description": "", "owner.name": "ops",
    },
    {
        "name": "db", "port": 5432, "weight": -0.5, "enabled": True,
        "roleAttributes": [], "createdAt": datetime(2022, 1, 1, tzinfo=UTC),
        "updatedAt": None, "description": None, "owner.name": "dba",
    },
    {
        "name": "cache", "port": None, "weight": 0, "enabled": None,
        "roleAttributes": ["db", "internal", "public"], "createdAt": None,
        "updatedAt": "not a date", "description": 'Redis "fast"\tcache', "owner.name": None,
    },
]  # fmt: skip
ALL = [e["name"] for e in ENTITIES]


def get(entity: dict[str, Any], field: str) -> Any:
    return entity[field]


def names(text: str | None) -> list[str]:
    return [e["name"] for e in run_query(parse_query(text), ENTITIES, get)]


FILTERS = [
    # empty filters and constants
    ("", ALL),
    ("   \t\n", ALL),
    ("true", ALL),
    ("false", []),
    ("true limit 5", ALL),
    # equality and order on strings and numbers
    ('name = "web1"', ["web1"]),
    ('name="web1"', ["web1"]),
    (unquote("name%3D%22web1%22"), ["web1"]),
    ('name != "web1"', ["Web2", "db", "cache"]),
    ('name < "db"', ["Web2", "cache"]),
    ("port > 80", ["Web2", "db"]),
    ("port >= 80", ["web1", "Web2", "db"]),
    ("port < 443", ["web1"]),
    ("port <= 443", ["web1", "Web2"]),
    ("port != 80", ["Web2", "db"]),
    ("weight = 1.5", ["web1"]),
    ("weight = 2.0", ["Web2"]),
    ("weight < 0", ["db"]),
    ("weight = -0.5", ["db"]),
    ("weight >= -5e-1", ["web1", "Web2", "db", "cache"]),
    # booleans and bare boolean fields
    ("enabled = true", ["web1", "db"]),
    ("enabled = false", ["Web2"]),
    ("enabled != true", ["Web2"]),
    ("enabled", ["web1", "db"]),
    ("not enabled", ["Web2", "cache"]),
    # null
    ("description = null", ["db"]),
    ("description != null", ["web1", "Web2", "cache"]),
    ("port = null or weight = null", ["cache"]),
    # contains
    ('name contains "eb"', ["web1", "Web2"]),
    ('name contains "WEB"', []),
    ('name icontains "WEB"', ["web1", "Web2"]),
    ('name not contains "eb"', ["db", "cache"]),
    ('name not icontains "WEB"', ["db", "cache"]),
    # in and between
    ('name in ["db", "cache", "nope"]', ["db", "cache"]),
    ('name not in ["db", "cache"]', ["web1", "Web2"]),
    ("port in [80, 5432]", ["web1", "db"]),
    ("port not in [80]", ["Web2", "db"]),
    ("port between 80 and 443", ["web1"]),
    ("port between 80 and 444", ["web1", "Web2"]),
    ("port not between 80 and 444", ["db"]),
    ('name between "a" and "d"', ["cache"]),
    # datetimes, also ISO strings from the getter and naive values taken as UTC
    ("createdAt < datetime(2021-01-01T00:00:00Z)", ["web1"]),
    ("createdAt >= datetime(2021-01-01T00:00:00Z)", ["Web2", "db"]),
    ("createdAt = datetime(2021-01-01T01:00:00+01:00)", ["Web2"]),
    ("createdAt = datetime( 2021-01-01T00:00:00.000000Z )", ["Web2"]),
    ("updatedAt > datetime(2021-12-31T23:59:59Z)", ["Web2"]),
    ("updatedAt between datetime(2021-01-01T00:00:00Z) and datetime(2022-01-01T00:00:00Z)", ["web1"]),
    ("updatedAt in [datetime(2021-06-01T00:00:00Z), datetime(2030-01-01T00:00:00Z)]", ["web1"]),
    # sets: explicit anyOf/allOf, lenient bare field, count, isEmpty
    ('anyOf(roleAttributes) = "web"', ["web1", "Web2"]),
    ('roleAttributes = "web"', ["web1", "Web2"]),
    ('roleAttributes != "web"', ["db", "cache"]),
    ('allOf(roleAttributes) = "web"', ["Web2", "db"]),
    ('anyOf(roleAttributes) != "web"', ["web1", "cache"]),
    ('allOf(roleAttributes) != "web"', ["db", "cache"]),
    ('anyOf(roleAttributes) contains "ub"', ["web1", "cache"]),
    ('roleAttributes contains "public"', ["web1", "cache"]),
    ('roleAttributes contains "pub"', []),
    ('roleAttributes icontains "PUBLIC"', ["web1", "cache"]),
    ('roleAttributes not contains "public"', ["Web2", "db"]),
    ('roleAttributes in ["db", "web"]', ["web1", "Web2", "cache"]),
    ('roleAttributes not in ["db", "web"]', ["db"]),
    ("count(roleAttributes) > 2", ["cache"]),
    ("count(roleAttributes) = 0", ["db"]),
    ("count(roleAttributes) between 1 and 3", ["web1", "Web2"]),
    ("count(roleAttributes) in [1, 3]", ["Web2", "cache"]),
    ("isEmpty(roleAttributes)", ["db"]),
    ("not isEmpty(roleAttributes)", ["web1", "Web2", "cache"]),
    ("roleAttributes = null", ["db"]),
    ("roleAttributes != null", ["web1", "Web2", "cache"]),
    ("isEmpty(description)", ["Web2", "db"]),
    # precedence: not > and > or; parentheses
    ('name = "db" or name = "cache" and port = 1', ["db"]),
    ('(name = "db" or name = "cache") and port = 5432', ["db"]),
    ('name = "web1" or name = "db" and enabled = true', ["web1", "db"]),
    ('not name = "db" and port > 80', ["Web2"]),
    ('not (name = "db" or name = "cache")', ["web1", "Web2"]),
    ("not not enabled", ["web1", "db"]),
    ('((((name = "db"))))', ["db"]),
    ('name = "db" and port = 5432 or name = "cache" and weight = 0', ["db", "cache"]),
    # keywords are case-insensitive
    ('name = "db" OR name = "cache" Sort By name DESC LIMIT NONE', ["db", "cache"]),
    ('ANYOF(roleAttributes) = "web" AnD port In [80]', ["web1"]),
    ('name NOT CONTAINS "eb" and NOT IsEmpty(roleAttributes)', ["cache"]),
    ("TRUE", ALL),
    ("createdAt < DATETIME(2021-01-01T00:00:00Z)", ["web1"]),
    # incompatible types are false, whatever the operator
    ("name = 5", []),
    ("name != 5", []),
    ('port = "80"', []),
    ('port != "80"', []),
    ('port contains "8"', []),
    ("enabled = 1", []),
    ("name < datetime(2020-01-01T00:00:00Z)", []),
    ("updatedAt < datetime(2100-01-01T00:00:00Z)", ["web1", "Web2"]),
    # dotted names and string escapes
    ('owner.name = "ops"', ["web1", "Web2"]),
    (r'description = "Redis \"fast\"\tcache"', ["cache"]),
    (r'description contains "\u0052edis"', ["cache"]),
    (r'name in ["\\", "db"]', ["db"]),
]


@pytest.mark.parametrize(("text", "expected"), FILTERS)
def test_filter_selects_expected_entities(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_none_matches_everything() -> None:
    query = parse_query(None)
    assert names(None) == ALL
    assert (query.sort, query.skip, query.limit) == ((), None, None)


def test_matches_uses_the_getter() -> None:
    query = parse_query('name = "x" and anyOf(tags) = "a"')
    assert query.matches({"name": "x", "tags": ["b", "a"]}.__getitem__)
    assert not query.matches({"name": "x", "tags": []}.__getitem__)


SORTS = [
    ("sort by port", ["cache", "web1", "Web2", "db"]),
    ("sort by port asc", ["cache", "web1", "Web2", "db"]),
    ("sort by port desc", ["db", "Web2", "web1", "cache"]),
    ("sort by name", ["Web2", "cache", "db", "web1"]),
    ("sort by enabled", ["cache", "Web2", "web1", "db"]),
    ("sort by enabled desc", ["web1", "db", "Web2", "cache"]),
    ("sort by enabled desc, name asc", ["db", "web1", "Web2", "cache"]),
    ("sort by enabled asc, name desc", ["cache", "Web2", "web1", "db"]),
    ("sort by createdAt", ["cache", "web1", "Web2", "db"]),
    ("sort by weight desc", ["Web2", "web1", "cache", "db"]),
    ('name != "db" sort by port desc skip 1 limit 1', ["Web2", "web1", "cache"]),
    ("SORT BY port DESC", ["db", "Web2", "web1", "cache"]),
]


@pytest.mark.parametrize(("text", "expected"), SORTS)
def test_sorting(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_sort_of_mixed_types_never_raises() -> None:
    items = [{"v": "b"}, {"v": 2}, {"v": None}, {"v": ["x"]}, {"v": True}, {"v": 1.5}, {"v": "a"}]
    result = run_query(parse_query("sort by v"), items, get)
    assert [i["v"] for i in result] == [None, True, 1.5, 2, "a", "b", ["x"]]


PAGING = [
    ("skip 2 limit 1", (), 2, 1),
    ("limit none", (), None, -1),
    ("limit -1", (), None, -1),
    ("limit 0", (), None, 0),
    ("skip 0", (), 0, None),
    ('name = "x" limit 25', (), None, 25),
    ("sort by name skip 10", (("name", True),), 10, None),
    ("true sort by a desc, b, c asc skip 1 limit 2", (("a", False), ("b", True), ("c", True)), 1, 2),
]


@pytest.mark.parametrize(("text", "sort", "skip", "limit"), PAGING)
def test_sort_skip_and_limit_clauses(text: str, sort: tuple, skip: int | None, limit: int | None) -> None:
    query = parse_query(text)
    assert (query.sort, query.skip, query.limit) == (sort, skip, limit)


def test_run_query_does_not_apply_skip_or_limit() -> None:
    assert names("skip 1 limit 1") == ALL


def test_fields_lists_every_field_read() -> None:
    query = parse_query('name = "x" and (anyOf(roleAttributes) = "y" or isEmpty(tags)) sort by port')
    assert query.fields == {"name", "roleAttributes", "tags", "port"}
    assert parse_query("true").fields == frozenset()


ERRORS = [
    ("name =", "offset 6"),
    ('name = "x" junk', "offset 11"),
    ('name ~ "x"', "offset 5"),
    ('name not = "x"', "offset 9"),
    ('= "x"', "offset 0"),
    ('(name = "x"', "expected ')'"),
    ('name = "x")', "offset 10"),
    ("name in []", "offset 9"),
    ('name in ["a",]', "offset 13"),
    ('name in "a"', "expected '['"),
    ("port between 1", "expected 'and'"),
    ("port between 1 or 2", "expected 'and'"),
    ("skip -1", "non-negative integer"),
    ("limit -2", "non-negative integer"),
    ("skip 1.5", "offset 5"),
    ("limit 2.0", "offset 6"),
    ("skip", "offset 4"),
    ("sort name", "expected 'by'"),
    ("sort by", "field name"),
    ("sort by name sideways", "offset 13"),
    ("limit 5 skip 2", "offset 8"),
    ('name = "unterminated', "unterminated string"),
    (r'name = "bad \q escape"', "invalid escape"),
    (r'name = "bad \u12"', "invalid escape"),
    ("createdAt = datetime(2020-02-30T00:00:00Z)", "invalid datetime"),
    ("createdAt = datetime(yesterday)", "invalid datetime"),
    ("createdAt = datetime(2020-01-01T00:00:00Z", "expected datetime("),
    ("createdAt = datetime(2020-01-01T00:00:00+24:00)", "invalid datetime"),
    ("weight = 1e999", "out of range"),
    ('count(roleAttributes) = "x"', "numbers"),
    ("count(roleAttributes) contains 1", "numbers"),
    ("anyOf(roleAttributes)", "expected an operator"),
    ("anyOf(roleAttributes", "expected ')'"),
    ("isEmpty(1)", "field name"),
    ("name > true", "offset 7"),
    ("name > null", "offset 7"),
    ("name contains null", "offset 14"),
    ("not", "expected a condition"),
    ('name = "x" and', "offset 14"),
    ("1 = name", "offset 0"),
    ("name. = 1", "unexpected character"),
    ("name = 'x'", "unexpected character"),
    ("name ! 1", "unexpected character"),
    ("x" * (MAX_QUERY_CHARS + 1), "longer than"),
    ("(" * (MAX_NESTING_DEPTH + 1) + "true" + ")" * (MAX_NESTING_DEPTH + 1), "nests deeper"),
    ("not " * (MAX_NESTING_DEPTH + 1) + "true", "nests deeper"),
    ("(" * 4000, "nests deeper"),
]


@pytest.mark.parametrize(("text", "fragment"), ERRORS)
def test_invalid_filters_raise_invalid_filter(text: str, fragment: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_query(text)
    assert fragment in info.value.message


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_NESTING_DEPTH
    assert names("(" * depth + 'name = "db"' + ")" * depth) == ["db"]
    assert names("not " * depth + "enabled") == ["web1", "db"]


@pytest.mark.parametrize("text", ["nope = 1", "sort by nope", 'name = "db" and nope = 1', "isEmpty(nope)"])
def test_unknown_field_is_invalid_filter(text: str) -> None:
    with pytest.raises(InvalidFilter, match="unknown field nope"):
        names(text)


def test_count_of_a_scalar_field_is_invalid_filter() -> None:
    with pytest.raises(InvalidFilter, match="set-valued"):
        names("count(name) > 1")


def test_invalid_filter_is_a_400() -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_query("name =")
    assert (info.value.http_status, info.value.code) == (400, "INVALID_FILTER")


# --- property tests -----------------------------------------------------------------------

FIELDS = ["name", "port", "weight", "enabled", "roleAttributes", "createdAt", "updatedAt", "description"]
LITERALS = [
    '"web"', '"a\\"b"', '""', "0", "80", "-2.5", "1e3", "true", "false", "null",
    "datetime(2021-01-01T00:00:00Z)", "datetime(2020-06-01T12:30:00.25+02:00)",
]  # fmt: skip
TOKENS = [
    *FIELDS, *LITERALS, "nope", "owner.name",
    "=", "!=", "<", "<=", ">", ">=", "(", ")", "[", "]", ",", "-", "!", "'", "\\", '"',
    "and", "OR", "not", "Not", "contains", "icontains", "in", "between",
    "anyOf(", "allOf(", "count(", "isEmpty(", "datetime(", "sort", "by", "asc", "DESC",
    "skip", "limit", "none", "-1", "4096", "from", "where",
]  # fmt: skip


def evaluate_everything(text: str) -> None:
    """Parse and run ``text``; only InvalidFilter may escape."""
    try:
        query = parse_query(text)
        run_query(query, ENTITIES, get)
    except InvalidFilter:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_only_raises_invalid_filter(text: str) -> None:
    evaluate_everything(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from([" ", "", "\n"]))
def test_random_token_sequences_only_raise_invalid_filter(tokens: list[str], sep: str) -> None:
    evaluate_everything(sep.join(tokens))


def _comparison(draw: st.DrawFn) -> str:
    lhs = draw(st.sampled_from(FIELDS + [f"anyOf({f})" for f in FIELDS] + [f"allOf({f})" for f in FIELDS]))
    op = draw(st.sampled_from(["=", "!=", "<", ">=", "contains", "not icontains", "in", "not between"]))
    literal = draw(st.sampled_from([lit for lit in LITERALS if lit not in ("true", "false", "null")]))
    if op == "in":
        return f"{lhs} in [{literal}, {literal}]"
    if op == "not between":
        return f"{lhs} not between {literal} and {literal}"
    if op in ("contains", "not icontains") and literal.startswith("datetime"):
        literal = '"x"'
    return f"{lhs} {op} {literal}"


@st.composite
def valid_predicates(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 4 else 1))
    if choice == 0:
        return _comparison(draw)
    if choice == 1:
        extras = ["true", "false", "enabled", "count(roleAttributes) > 1", "port != null"]
        return draw(st.sampled_from([f"isEmpty({f})" for f in FIELDS] + extras))
    if choice == 2:
        return f"not {draw(valid_predicates(depth + 1))}"
    if choice == 3:
        return f"({draw(valid_predicates(depth + 1))})"
    joiner = " and " if choice == 4 else " or "
    return joiner.join(draw(st.lists(valid_predicates(depth + 1), min_size=2, max_size=3)))


@settings(max_examples=300, deadline=None)
@given(valid_predicates(), st.sampled_from(FIELDS), st.booleans())
def test_grammar_generated_queries_parse_and_negate(predicate: str, field: str, asc: bool) -> None:
    query = parse_query(f"{predicate} sort by {field} {'asc' if asc else 'desc'} skip 1 limit none")
    negated = parse_query(f"not ({predicate})")
    assert isinstance(query, Query) and query.limit == -1 and query.skip == 1
    selected = run_query(query, ENTITIES, get)
    rejected = run_query(negated, ENTITIES, get)
    assert sorted(e["name"] for e in selected + rejected) == sorted(ALL)
