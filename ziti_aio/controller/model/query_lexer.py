"""Tokens of ZitiQL, the filter language of OpenZiti list endpoints.

The lexer turns filter text into a list of :class:`Token` ending with an ``EOF`` token.
Keywords are case-insensitive and reported in lower case; literals carry their decoded
value. Every problem is an :class:`InvalidFilter` naming the character offset.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ziti_aio.common.errors import InvalidFilter

MAX_QUERY_CHARS = 4096

KEYWORDS = frozenset(
    {
        "and", "or", "not", "true", "false", "null",
        "contains", "icontains", "in", "between",
        "anyof", "allof", "count", "isempty",
        "sort", "by", "asc", "desc", "skip", "limit", "none",
    }
)  # fmt: skip


class Kind(enum.Enum):
    """What a token is."""

    IDENT = "identifier"
    KEYWORD = "keyword"
    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    OP = "operator"
    PUNCT = "punctuation"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text`` is the source text; ``value`` the literal, or a keyword in lower case."""

    kind: Kind
    text: str
    value: Any
    pos: int

    def describe(self) -> str:
        """How an error message names this token."""
        return "end of input" if self.kind is Kind.EOF else repr(self.text)


_WS = re.compile(r"[ \t\r\n]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_OP = re.compile(r"<=|>=|!=|=|<|>")
_DATETIME = re.compile(r"\([ \t\r\n]*([^ \t\r\n)]*)[ \t\r\n]*\)")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))"
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_PUNCT = "()[],"


def parse_rfc3339(text: str) -> datetime | None:
    """Parse an RFC 3339 timestamp (``2020-01-01T00:00:00Z``) to an aware datetime, else None."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micros = int((m[7] or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if m[8]:
        oh, om = int(m[9]), int(m[10])
        if oh > 23 or om > 59:
            return None
        offset = timedelta(hours=oh, minutes=om) * (1 if m[8] == "+" else -1)
    try:
        return datetime(year, month, day, hour, minute, second, micros, timezone(offset))
    except ValueError:
        return None


def tokenize(text: str) -> list[Token]:
    """Split filter text into tokens, ending with an EOF token."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidFilter(f"filter is longer than {MAX_QUERY_CHARS} characters")
    tokens: list[Token] = []
    pos = 0
    while True:
        ws = _WS.match(text, pos)
        if ws:
            pos = ws.end()
        if pos >= len(text):
            tokens.append(Token(Kind.EOF, "", None, pos))
            return tokens
        token = _next_token(text, pos)
        tokens.append(token)
        pos += len(token.text)


def _next_token(text: str, pos: int) -> Token:
    ch = text[pos]
    if ch == '"':
        return _string(text, pos)
    if ch in _PUNCT:
        return Token(Kind.PUNCT, ch, None, pos)
    if m := _OP.match(text, pos):
        return Token(Kind.OP, m[0], None, pos)
    if m := _NUMBER.match(text, pos):
        return _number(m[0], pos)
    if m := _IDENT.match(text, pos):
        word = m[0]
        lower = word.lower()
        if lower == "datetime" and text.startswith("(", m.end()):
            if not (dt := _DATETIME.match(text, m.end())):
                raise InvalidFilter(f"expected datetime(<RFC 3339 timestamp>) at offset {pos}")
            return _datetime(text[pos : dt.end()], dt[1], pos)
        if lower in KEYWORDS:
            return Token(Kind.KEYWORD, word, lower, pos)
        return Token(Kind.IDENT, word, word, pos)
    raise InvalidFilter(f"unexpected character {ch!r} at offset {pos}")


def _number(text: str, pos: int) -> Token:
    value: int | float
    try:
        value = int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        raise InvalidFilter(f"invalid number {text!r} at offset {pos}") from None
    if value in (float("inf"), float("-inf")):
        raise InvalidFilter(f"number {text!r} at offset {pos} is out of range")
    return Token(Kind.NUMBER, text, value, pos)


def _datetime(source: str, inner: str, pos: int) -> Token:
    value = parse_rfc3339(inner)
    if value is None:
        raise InvalidFilter(
            f"invalid datetime {inner!r} at offset {pos}: expected RFC 3339, e.g. 2020-01-01T00:00:00Z"
        )
    return Token(Kind.DATETIME, source, value, pos)


def _string(text: str, start: int) -> Token:
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            return Token(Kind.STRING, text[start : pos + 1], "".join(out), start)
        if ch != "\\":
            out.append(ch)
            pos += 1
            continue
        esc = text[pos + 1 : pos + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            pos += 2
        elif esc == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[pos + 2 : pos + 6]):
            out.append(chr(int(text[pos + 2 : pos + 6], 16)))
            pos += 6
        else:
            raise InvalidFilter(f"invalid escape {text[pos : pos + 2]!r} in string at offset {pos}")
    raise InvalidFilter(f"unterminated string starting at offset {start}")
