"""``wait_until``: wait for a state that has no event to wait on (another process, the management API).

Where the code under test can signal (a ``trio.Event``, ``nursery.start``), wait on that instead; polling is for
state seen only from outside.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, TypeVar, overload

import trio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")

POLL_INTERVAL_S = 0.05
DEFAULT_TIMEOUT_S = 10.0


class WaitTimeout(TimeoutError):
    """The condition ``wait_until`` waited for did not hold in time; the message names it and its last value."""


@overload
async def wait_until(predicate: Callable[[], Awaitable[T]], timeout: float = DEFAULT_TIMEOUT_S, *,
                     what: str | None = None, interval_s: float = POLL_INTERVAL_S) -> T: ...
@overload
async def wait_until(predicate: Callable[[], T], timeout: float = DEFAULT_TIMEOUT_S, *,
                     what: str | None = None, interval_s: float = POLL_INTERVAL_S) -> T: ...
async def wait_until(predicate: Callable[[], object], timeout: float = DEFAULT_TIMEOUT_S, *,
                     what: str | None = None, interval_s: float = POLL_INTERVAL_S) -> object:
    """Call ``predicate`` (sync or async) every ``interval_s`` seconds until it returns something truthy, and return
    that value. After ``timeout`` seconds (a slow async predicate included) raise :class:`WaitTimeout` naming
    ``what`` (default: the predicate's name, or a lambda's source) and the last value it returned."""
    last: object = None
    with trio.move_on_after(timeout):
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            last = value
            await trio.sleep(interval_s)
    shown = repr(last)
    if len(shown) > 300:
        shown = shown[:300] + "..."
    raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what or _describe(predicate)} (last value: {shown})")


def _describe(predicate: Callable[[], object]) -> str:
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    if "<lambda>" not in name:
        return name
    try:
        source = inspect.getsource(predicate)
    except (OSError, TypeError):
        return name
    start = source.find("lambda")
    if start < 0:
        return name
    depth = 0
    for end in range(start, len(source)):  # the lambda ends at a comma or a closing bracket of its caller
        char = source[end]
        if char in "([{":
            depth += 1
        elif char in ")]}" or (char == "," and depth == 0):
            if depth == 0:
                break
            depth -= 1
    else:
        end = len(source)
    return " ".join(source[start:end].split())
