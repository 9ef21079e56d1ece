"""ZitiQL: parse OpenZiti filter text and evaluate it against in-memory entities.

A query is ``<boolExpr> [sort by f [asc|desc], ...] [skip N] [limit N|none]``; see
``docs/edge-api.md`` §1.4. Entities are reached only through a getter that maps a field
name to its value (a scalar, or a list/tuple for set-valued fields) and raises
``KeyError`` for an unknown field.

Evaluation never raises on a type mismatch: a comparison between incompatible values (or
with a missing value) is false, whatever the operator, as in SQL. ``between`` is half-open
(``lower <= v < upper``) as in OpenZiti. On a set-valued field without ``anyOf``/``allOf``,
an operator holds when any element matches, and its negated form when none does;
``contains`` then means "has this element" and ``= null`` means "is empty".
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from ziti_aio.common.errors import InvalidFilter

from .query_lexer import Kind, Token, parse_rfc3339, tokenize

MAX_NESTING_DEPTH = 64

Getter = Callable[[str], Any]
T = TypeVar("T")

_SET_TYPES = (list, tuple, set, frozenset)
_ORDER_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


# --- evaluation helpers -------------------------------------------------------------------


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _coerce(value: Any, literal: Any) -> Any:
    """Return ``value`` in a form comparable with ``literal``, or None when incompatible."""
    if value is None:
        return None
    if isinstance(literal, bool):
        return value if isinstance(value, bool) else None
    if isinstance(literal, (int, float)):
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if isinstance(literal, str):
        return value if isinstance(value, str) else None
    if isinstance(value, datetime):
        return _as_utc(value)
    return parse_rfc3339(value) if isinstance(value, str) else None


def _equal(value: Any, literal: Any) -> bool | None:
    v = _coerce(value, literal)
    return None if v is None else bool(v == literal)


def _order(value: Any, op: str, literal: Any) -> bool | None:
    v = _coerce(value, literal)
    return None if v is None else bool(_ORDER_OPS[op](v, literal))


def _in(value: Any, literals: tuple[Any, ...]) -> bool | None:
    results = [_equal(value, lit) for lit in literals]
    if any(results):
        return True
    return None if all(r is None for r in results) else False


def _between(value: Any, bounds: tuple[Any, Any]) -> bool | None:
    low, high = _order(value, ">=", bounds[0]), _order(value, "<", bounds[1])
    return None if low is None or high is None else low and high


def _contains(value: Any, literal: Any, fold: bool) -> bool | None:
    if not isinstance(value, str) or not isinstance(literal, str):
        return None
    return literal.casefold() in value.casefold() if fold else literal in value


def _member_equal(value: Any, literal: Any, fold: bool) -> bool | None:
    if fold and isinstance(value, str) and isinstance(literal, str):
        return value.casefold() == literal.casefold()
    return _equal(value, literal)


# --- predicate AST ------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    """``true`` or ``false``."""

    value: bool

    def evaluate(self, get: Getter) -> bool:
        """Return the constant."""
        return self.value


@dataclass(frozen=True)
class Not:
    """``not <expr>``."""

    child: Predicate

    def evaluate(self, get: Getter) -> bool:
        """Negate the child."""
        return not self.child.evaluate(get)


@dataclass(frozen=True)
class And:
    """``a and b and ...``, short-circuiting."""

    children: tuple[Predicate, ...]

    def evaluate(self, get: Getter) -> bool:
        """True when every child is."""
        return all(c.evaluate(get) for c in self.children)


@dataclass(frozen=True)
class Or:
    """``a or b or ...``, short-circuiting."""

    children: tuple[Predicate, ...]

    def evaluate(self, get: Getter) -> bool:
        """True when any child is."""
        return any(c.evaluate(get) for c in self.children)


@dataclass(frozen=True)
class Symbol:
    """A bare field used as a condition: true when the field's value is ``True``."""

    field: str

    def evaluate(self, get: Getter) -> bool:
        """True when the field holds boolean true."""
        return get(self.field) is True


@dataclass(frozen=True)
class IsEmpty:
    """``isEmpty(field)``: the field is null, an empty set or an empty string."""

    field: str

    def evaluate(self, get: Getter) -> bool:
        """True when the field has nothing in it."""
        value = get(self.field)
        return value is None or (isinstance(value, (*_SET_TYPES, str)) and len(value) == 0)


@dataclass(frozen=True)
class Compare:
    """``<lhs> [not] <op> <operand>``; ``func`` is None, ``anyof``, ``allof`` or ``count``.

    ``op`` is ``=`` (``!=`` sets ``negate``), an order operator, ``contains``,
    ``icontains``, ``in`` (operand: a tuple) or ``between`` (operand: a (low, high) pair).
    A ``None`` operand with ``=`` is the null test.
    """

    func: str | None
    field: str
    op: str
    operand: Any
    negate: bool = False

    def evaluate(self, get: Getter) -> bool:
        """Apply the operator to the field's value for one entity."""
        value = get(self.field)
        if self.func == "count":
            if value is not None and not isinstance(value, _SET_TYPES):
                raise InvalidFilter(f"count() needs a set-valued field, {self.field} is not one")
            return self._test(0 if value is None else len(value))
        if self.func is not None:
            elements = value if isinstance(value, _SET_TYPES) else () if value is None else (value,)
            results = (self._test(e) for e in elements)
            return any(results) if self.func == "anyof" else all(results)
        if not isinstance(value, _SET_TYPES):
            return self._test(value)
        if self.op == "=" and self.operand is None:
            return (len(value) == 0) != self.negate
        if self.op in ("contains", "icontains"):
            fold = self.op == "icontains"
            hit = any(_member_equal(e, self.operand, fold) for e in value)
        else:
            hit = any(self._positive(e) for e in value)
        return hit != self.negate

    def _test(self, value: Any) -> bool:
        result = self._positive(value)
        return False if result is None else result != self.negate

    def _positive(self, value: Any) -> bool | None:
        op, operand = self.op, self.operand
        if op == "=":
            return value is None if operand is None else _equal(value, operand)
        if op in _ORDER_OPS:
            return _order(value, op, operand)
        if op == "in":
            return _in(value, operand)
        if op == "between":
            return _between(value, operand)
        return _contains(value, operand, op == "icontains")


Predicate = Const | Not | And | Or | Symbol | IsEmpty | Compare


# --- query --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A parsed filter: predicate, sort keys ``(field, ascending)``, skip and limit.

    ``limit`` is -1 for ``limit none``; ``fields`` names every field the query reads, so a
    caller can reject unknown ones before there is an entity to evaluate against.
    """

    predicate: Predicate
    sort: tuple[tuple[str, bool], ...] = ()
    skip: int | None = None
    limit: int | None = None
    fields: frozenset[str] = frozenset()

    def matches(self, getter: Getter) -> bool:
        """Evaluate the predicate for one entity; an unknown field raises InvalidFilter."""
        return self.predicate.evaluate(_checked(getter))


def _checked(getter: Getter) -> Getter:
    def get(name: str) -> Any:
        try:
            return getter(name)
        except KeyError as exc:
            raise InvalidFilter(f"unknown field {name}") from exc

    return get


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, datetime):
        return (4, _as_utc(value))
    return (5, repr(value))


def run_query(query: Query, items: Iterable[T], getter: Callable[[T, str], Any]) -> list[T]:
    """Filter ``items`` by the predicate, then sort them stably; skip/limit are not applied.

    Values sort None first, then booleans, numbers, strings, datetimes (ascending).
    """
    result = [item for item in items if query.matches(partial(getter, item))]
    for field, ascending in reversed(query.sort):
        keys = [_sort_key(_checked(partial(getter, item))(field)) for item in result]
        order = sorted(range(len(result)), key=keys.__getitem__, reverse=not ascending)
        result = [result[i] for i in order]
    return result


# --- parser -------------------------------------------------------------------------------


def parse_query(text: str | None) -> Query:
    """Parse ZitiQL text; empty or None gives a query that matches everything."""
    if text is None or not text.strip():
        return Query(Const(True))
    return _Parser(text).query()


_VALUES = (Kind.STRING, Kind.NUMBER, Kind.DATETIME)


def _numeric(op: str, operand: Any) -> bool:
    values = operand if op in ("in", "between") else (operand,)
    return op not in ("contains", "icontains") and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.fields: set[str] = set()

    # token helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def at(self, *words: str) -> bool:
        token = self.peek()
        return token.kind is Kind.KEYWORD and token.value in words

    def at_punct(self, ch: str) -> bool:
        token = self.peek()
        return token.kind is Kind.PUNCT and token.text == ch

    def error(self, expected: str) -> InvalidFilter:
        token = self.peek()
        return InvalidFilter(f"expected {expected} at offset {token.pos}, found {token.describe()}")

    def expect_punct(self, ch: str) -> None:
        if not self.at_punct(ch):
            raise self.error(repr(ch))
        self.advance()

    def expect_keyword(self, word: str) -> None:
        if not self.at(word):
            raise self.error(repr(word))
        self.advance()

    def ident(self) -> str:
        if self.peek().kind is not Kind.IDENT:
            raise self.error("a field name")
        name = self.advance().text
        self.fields.add(name)
        return name

    @contextlib.contextmanager
    def nested(self) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise InvalidFilter(
                f"filter nests deeper than {MAX_NESTING_DEPTH} levels at offset {self.peek().pos}"
            )
        yield
        self.depth -= 1

    # grammar
    def query(self) -> Query:
        predicate: Predicate = Const(True)
        if self.peek().kind is not Kind.EOF and not self.at("sort", "skip", "limit"):
            predicate = self.or_expr()
        sort: list[tuple[str, bool]] = []
        skip = limit = None
        if self.at("sort"):
            self.advance()
            self.expect_keyword("by")
            sort.append(self.sort_field())
            while self.at_punct(","):
                self.advance()
                sort.append(self.sort_field())
        if self.at("skip"):
            self.advance()
            skip = self.row_count("skip", allow_all=False)
        if self.at("limit"):
            self.advance()
            if self.at("none"):
                self.advance()
                limit = -1
            else:
                limit = self.row_count("limit", allow_all=True)
        if self.peek().kind is not Kind.EOF:
            raise self.error(self.what_may_follow(bool(sort), skip is not None, limit is not None))
        return Query(predicate, tuple(sort), skip, limit, frozenset(self.fields))

    def what_may_follow(self, sorted_: bool, skipped: bool, limited: bool) -> str:
        options = []
        if not (sorted_ or skipped or limited):
            options += ["'and'", "'or'", "'sort by'"]
        if not (skipped or limited):
            options.append("'skip'")
        if not limited:
            options.append("'limit'")
        return ", ".join([*options, "end of input"])

    def sort_field(self) -> tuple[str, bool]:
        name = self.ident()
        if self.at("asc", "desc"):
            return name, self.advance().value == "asc"
        return name, True

    def row_count(self, clause: str, allow_all: bool) -> int:
        token = self.peek()
        value = token.value
        in_range = isinstance(value, int) and (value >= 0 or (allow_all and value == -1))
        if token.kind is not Kind.NUMBER or not in_range:
            expected = f"a non-negative integer after {clause!r}"
            raise self.error(f"'none' or {expected}" if allow_all else expected)
        self.advance()
        return value

    def or_expr(self) -> Predicate:
        children = [self.and_expr()]
        while self.at("or"):
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Predicate:
        children = [self.unary()]
        while self.at("and"):
            self.advance()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Predicate:
        if self.at("not"):
            self.advance()
            with self.nested():
                return Not(self.unary())
        return self.primary()

    def primary(self) -> Predicate:
        token = self.peek()
        if self.at_punct("("):
            self.advance()
            with self.nested():
                inner = self.or_expr()
            self.expect_punct(")")
            return inner
        if self.at("true", "false"):
            return Const(self.advance().value == "true")
        if self.at("isempty"):
            self.advance()
            self.expect_punct("(")
            name = self.ident()
            self.expect_punct(")")
            return IsEmpty(name)
        if self.at("anyof", "allof", "count"):
            func = self.advance().value
            self.expect_punct("(")
            name = self.ident()
            self.expect_punct(")")
            return self.operation(func, name)
        if token.kind is Kind.IDENT:
            return self.operation(None, self.ident())
        raise self.error("a condition")

    def operation(self, func: str | None, name: str) -> Predicate:
        start = self.peek().pos
        negate = self.at("not")
        if negate:
            self.advance()
            if not self.at("contains", "icontains", "in", "between"):
                raise self.error("'contains', 'icontains', 'in' or 'between' after 'not'")
        token = self.peek()
        operand: Any
        if token.kind is Kind.OP and not negate:
            self.advance()
            op, negate = ("=", token.text == "!=") if token.text in ("=", "!=") else (token.text, False)
            operand = self.literal(*_VALUES, *(("true", "false", "null") if op == "=" else ()))
        elif self.at("contains", "icontains"):
            op, operand = self.advance().value, self.literal(Kind.STRING, Kind.NUMBER)
        elif self.at("in"):
            op = self.advance().value
            self.expect_punct("[")
            values = [self.literal(*_VALUES)]
            while self.at_punct(","):
                self.advance()
                values.append(self.literal(*_VALUES))
            self.expect_punct("]")
            operand = tuple(values)
        elif self.at("between"):
            op = self.advance().value
            low = self.literal(*_VALUES)
            self.expect_keyword("and")
            operand = (low, self.literal(*_VALUES))
        elif func is None:
            return Symbol(name)
        else:
            raise self.error("an operator")
        if func == "count" and not _numeric(op, operand):
            raise InvalidFilter(f"count({name}) at offset {start} can only be compared with numbers")
        return Compare(func, name, op, operand, negate)

    def literal(self, *allowed: Kind | str) -> Any:
        token = self.peek()
        ok = token.kind in allowed or (token.kind is Kind.KEYWORD and token.value in allowed)
        if not ok:
            names = [a.value if isinstance(a, Kind) else a for a in allowed]
            raise self.error("a value (" + ", ".join(names) + ")")
        self.advance()
        if token.kind is Kind.KEYWORD:
            return {"true": True, "false": False, "null": None}[token.value]
        return token.value
