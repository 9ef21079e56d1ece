"""Supervision: each role is a task in one nursery; a role that fails while running restarts with backoff.

Shutdown is cancellation (SIGINT/SIGTERM/SIGHUP cancel the nursery). A role that fails after it
started is logged (one line; the traceback at DEBUG) and restarted after a growing delay while the
other roles keep running. A role that cannot start at all fails the start instead: its cause (a port
in use, a bad address, a refused enrollment) does not go away by retrying, and the user needs the
reason, not a restart loop. A role that fails ``MAX_FAILURES_IN_A_ROW`` times without
``STABLE_AFTER_S`` of healthy running in between is given up on: the error stops the whole node.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from ziti_aio.common.errors import ConfigError, ZitiError, first_error

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
MAX_FAILURES_IN_A_ROW = 5

RoleRun = Callable[..., Awaitable[None]]


class RoleFailed(ZitiError):
    """A role could not start, or kept failing while running."""

    code = "ROLE_FAILED"
    default_message = "a role failed"


@dataclass
class RoleStatus:
    """What the supervisor knows of one role."""

    name: str
    restarts: int = 0
    running: bool = False
    last_error: str | None = None
    failures_in_a_row: int = 0


def describe(exc: BaseException) -> str:
    """The message of our own error inside (possibly nested) exception groups, else ``Type: message``
    of the first real error."""
    ours = first_error(exc, ZitiError)
    if isinstance(ours, ZitiError):
        return ours.message
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


async def supervise(
    name: str,
    run: RoleRun,
    *,
    status: RoleStatus | None = None,
    initial_backoff_s: float = INITIAL_BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
    max_failures: int = MAX_FAILURES_IN_A_ROW,
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``run(task_status=…)`` until cancelled, restarting it with backoff when it fails or returns.

    ``task_status`` is reported once, with what the role's first start reported. If that first start
    fails, the error is raised, named for the role (a :class:`ConfigError` stays one); so is a
    :class:`RoleFailed` after ``max_failures`` failures in a row.
    """
    status = status or RoleStatus(name)
    backoff = initial_backoff_s
    first = True
    while True:
        started_at = trio.current_time()
        try:
            async with trio.open_nursery() as nursery:
                value = await nursery.start(run)
                status.running = True
                if first:
                    task_status.started(value)
                    first = False
            log.warning("role %s stopped by itself", name)
            status.last_error = "stopped by itself"
        except Exception as exc:
            if first:
                if isinstance(config := first_error(exc, ConfigError), ConfigError):
                    raise ConfigError(f"{name}: {config.message}") from exc
                raise RoleFailed(f"{name} could not start: {describe(exc)}") from exc
            status.last_error = describe(exc)
            log.error("role %s failed: %s", name, status.last_error,
                      exc_info=exc if log.isEnabledFor(logging.DEBUG) else None)
        status.running = False
        if trio.current_time() - started_at >= STABLE_AFTER_S:
            backoff = initial_backoff_s
            status.failures_in_a_row = 0
        status.failures_in_a_row += 1
        if status.failures_in_a_row >= max_failures:
            raise RoleFailed(f"{name} failed {status.failures_in_a_row} times in a row without "
                             f"{STABLE_AFTER_S:g} s of healthy running; giving up (last error: {status.last_error})")
        status.restarts += 1
        log.warning("restarting role %s in %.1f s", name, backoff)
        await trio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)
