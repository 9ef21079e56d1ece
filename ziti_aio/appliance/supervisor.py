"""Supervision: each role is a task in one nursery; a crashed role restarts with backoff.

Shutdown is cancellation (SIGINT/SIGTERM cancel the nursery). A role that fails is logged
and restarted after a growing delay while the other roles keep running. A role that cannot
start at all because of its configuration (a port in use, an address not on this host) fails the
start instead: retrying would never help, and the user needs the reason, not a restart loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from ziti_aio.common.errors import ConfigError, first_error

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0

RoleRun = Callable[..., Awaitable[None]]


@dataclass
class RoleStatus:
    """What the supervisor knows of one role."""

    name: str
    restarts: int = 0
    running: bool = False
    last_error: str | None = None


def describe(exc: BaseException) -> str:
    """``Type: message`` of the first real error inside (possibly nested) exception groups."""
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
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``run(task_status=…)`` forever, restarting it with backoff when it fails or returns.

    ``task_status`` is reported once, with what the role's first successful start reported.
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
            log.warning("role %s stopped by itself; restarting", name)
            status.last_error = "stopped"
        except Exception as exc:
            config = first_error(exc, ConfigError) if first else None
            if isinstance(config, ConfigError):
                raise ConfigError(f"{name}: {config.message}") from exc
            status.last_error = describe(exc)
            log.error("role %s failed: %s", name, status.last_error, exc_info=exc)
        status.running = False
        if trio.current_time() - started_at > STABLE_AFTER_S:
            backoff = initial_backoff_s
        status.restarts += 1
        log.info("restarting role %s in %.1f s", name, backoff)
        await trio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)
