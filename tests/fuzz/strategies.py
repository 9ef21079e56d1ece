"""Generic strategies shared by the fuzz targets: byte mutators, JSON values, a DER-aware mutator.

Every strategy is bounded in size, so one example never takes long or holds much memory. Strategies
without arguments are built once (``cache``): hypothesis validates each new strategy object, which
costs more than drawing from it.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Iterator

INTERESTING_UINT32 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 2**31 - 1, 2**31, 2**32 - 1)
MAX_NESTING = 5000


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, max_ops: int = 4) -> bytes:
    """``data`` after 1..``max_ops`` edits: set, flip, insert, delete, duplicate, truncate, or an interesting uint32."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("set", "flip", "insert", "delete", "duplicate", "truncate", "uint32")))
        pos = draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "insert" or not buf:
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "set":
            buf[pos] = draw(st.integers(0, 255))
        elif op == "flip":
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        elif op == "duplicate":
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del buf[pos:]
        else:
            order = draw(st.sampled_from(("little", "big")))
            buf[pos : pos + 4] = draw(st.sampled_from(INTERESTING_UINT32)).to_bytes(4, order)
    return bytes(buf)


@st.composite
def mutated_text(draw: st.DrawFn, text: str, max_ops: int = 3) -> str:
    """``text`` after 1..``max_ops`` character edits (insert, delete, replace, duplicate, truncate)."""
    chars = list(text)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("insert", "delete", "replace", "duplicate", "truncate")))
        pos = draw(st.integers(0, max(0, len(chars) - 1)))
        if op == "insert" or not chars:
            chars[pos:pos] = draw(st.text(min_size=1, max_size=8))
        elif op == "delete":
            del chars[pos : pos + draw(st.integers(1, 8))]
        elif op == "replace":
            chars[pos] = draw(st.characters())
        elif op == "duplicate":
            chars[pos:pos] = chars[pos : pos + draw(st.integers(1, 32))]
        else:
            del chars[pos:]
    return "".join(chars)


@cache
def json_scalars(*, hostile: bool = False) -> st.SearchStrategy[Any]:
    """JSON scalars; ``hostile`` adds NaN, infinities, huge integers and lone surrogates."""
    floats = st.floats(allow_nan=hostile, allow_infinity=hostile)
    ints = st.integers() if not hostile else st.integers() | st.integers(-(10**400), 10**400)
    text = st.text(max_size=24) if not hostile else st.text(st.characters(), max_size=24)
    return st.none() | st.booleans() | ints | floats | text


@cache
def json_values(*, max_leaves: int = 12, hostile: bool = False) -> st.SearchStrategy[Any]:
    """Nested JSON values (lists and string-keyed objects) with at most about ``max_leaves`` scalars."""
    return st.recursive(
        json_scalars(hostile=hostile),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=max_leaves,
    )


@st.composite
def deeply_nested_json(draw: st.DrawFn) -> bytes:
    """A JSON text nested deeper than any parser's recursion limit: arrays, objects, or both, maybe unclosed."""
    depth = draw(st.integers(500, MAX_NESTING))
    opener, closer = draw(st.sampled_from(((b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]"))))
    tail = closer * depth if draw(st.booleans()) else b""
    return opener * depth + b"1" + tail


def _containers(value: Any) -> Iterator[dict[str, Any] | list[Any]]:
    if isinstance(value, dict | list):
        yield value
        for item in value.values() if isinstance(value, dict) else value:
            yield from _containers(item)


@st.composite
def mutated_json(
    draw: st.DrawFn, value: Any, keys: st.SearchStrategy[str], leaves: st.SearchStrategy[Any], max_ops: int = 3
) -> Any:
    """A copy of the JSON ``value`` with 1..``max_ops`` edits inside it: a member or item dropped,
    replaced by one of ``leaves`` or added under one of ``keys``, an item duplicated."""
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(1, max_ops))):
        containers = list(_containers(value))
        if not containers:
            return draw(leaves)
        container = containers[draw(st.integers(0, len(containers) - 1))]
        op = draw(st.sampled_from(("drop", "replace", "add", "duplicate")))
        if isinstance(container, dict):
            if op in ("drop", "replace") and container:
                key = draw(st.sampled_from(sorted(container)))
                if op == "drop":
                    del container[key]
                else:
                    container[key] = draw(leaves)
            else:
                container[draw(keys)] = draw(leaves)
        elif op in ("drop", "replace", "duplicate") and container:
            index = draw(st.integers(0, len(container) - 1))
            if op == "drop":
                del container[index]
            elif op == "replace":
                container[index] = draw(leaves)
            else:
                container.insert(index, copy.deepcopy(container[index]))
        else:
            container.append(draw(leaves))
    return value


# --- DER ---------------------------------------------------------------------------------------

_CONSTRUCTED = 0x20


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def der_elements(der: bytes) -> list[tuple[int, int, int, int]]:
    """Every element of a DER tree, outermost first: ``(tag offset, content start, content end, depth)``.

    Walks single-byte tags and definite lengths only (all our encoders write); stops at anything else.
    """
    out: list[tuple[int, int, int, int]] = []

    def walk(pos: int, end: int, depth: int) -> None:
        while pos + 2 <= end:
            tag, first = der[pos], der[pos + 1]
            count = first & 0x7F if first & 0x80 else 0
            if tag & 0x1F == 0x1F or first == 0x80 or count > 4 or pos + 2 + count > end:
                return
            length = int.from_bytes(der[pos + 2 : pos + 2 + count], "big") if count else first
            start = pos + 2 + count
            if start + length > end:
                return
            out.append((pos, start, start + length, depth))
            if tag & _CONSTRUCTED:
                walk(start, start + length, depth + 1)
            pos = start + length

    walk(0, len(der), 0)
    return out


def _replace_element(der: bytes, elements: list[tuple[int, int, int, int]], index: int, element: bytes) -> bytes:
    """``der`` with element ``index`` replaced by the bytes ``element``, every enclosing length fixed up."""
    pos, _, end, depth = elements[index]
    result = der[:pos] + element + der[end:]
    delta = len(element) - (end - pos)
    for outer_pos, outer_start, outer_end, outer_depth in reversed(elements[:index]):
        if outer_depth < depth and outer_start <= pos and end <= outer_end:  # the next enclosing element
            depth = outer_depth
            header_len = outer_start - outer_pos
            new_header = result[outer_pos : outer_pos + 1] + _der_length(outer_end - outer_start + delta)
            result = result[:outer_pos] + new_header + result[outer_pos + header_len :]
            delta += len(new_header) - header_len
    return result


@st.composite
def mutated_der(draw: st.DrawFn, der: bytes) -> bytes:
    """``der`` with one element changed, enclosing lengths kept consistent; sometimes byte edits on top.

    Element edits: a new tag, random or empty content, content doubled, the element dropped, its
    length in long form (BER, not DER), as indefinite, or claiming more than there is.
    """
    elements = der_elements(der)
    if not elements:
        return draw(mutated_bytes(der))
    index = draw(st.integers(0, len(elements) - 1))
    pos, start, end, _ = elements[index]
    tag, content = der[pos], der[start:end]
    op = draw(st.sampled_from(("tag", "content", "empty", "double", "drop", "long", "indefinite", "overrun")))
    if op == "tag":
        tag = draw(st.integers(0, 255).filter(lambda t: t & 0x1F != 0x1F))
    if op in ("tag", "content", "empty", "double"):
        content = {"content": draw(st.binary(max_size=64)), "empty": b"", "double": content + content}.get(op, content)
        element = bytes([tag]) + _der_length(len(content)) + content
    elif op == "drop":
        element = b""
    elif op == "long":
        element = bytes([tag, 0x84]) + len(content).to_bytes(4, "big") + content
    elif op == "indefinite":
        element = bytes([tag, 0x80]) + content + b"\x00\x00"
    else:
        claimed = draw(st.sampled_from((len(content) + 1, 0x7FFFFFFF, 0xFFFFFFFF)))
        element = bytes([tag, 0x84]) + claimed.to_bytes(4, "big") + content
    result = _replace_element(der, elements, index, element)
    return result if draw(st.integers(0, 3)) else draw(mutated_bytes(result, max_ops=2))
