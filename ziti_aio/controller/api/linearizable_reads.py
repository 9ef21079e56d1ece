"""Linearizable reads: a member set to ``reads = "linearizable"`` answers the APIs' GETs only after
Raft's read-index (docs/ha.md "Linearizable reads").

Before a GET of the management or client API is handled, the member learns from the leader how far
the log was committed after the request arrived (the leader's leadership confirmed by a majority),
applies that far, and waits until its memory holds no change of its own still in flight; new writes
wait until the read is answered. Without a leader confirmed by a majority within two election timeouts
the answer is 503 ``CLUSTER_HAS_NO_LEADER``, as for writes. With ``reads = "local"`` (the default, as
OpenZiti) a member answers from its memory, without a quorum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from quart import g, request

from ziti_aio.common import api_paths
from ziti_aio.controller.cluster.replica import LINEARIZABLE_READS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ziti_aio.controller.api.app import ApiContext

GATED = (api_paths.MANAGEMENT + "/", api_paths.CLIENT + "/")
UNGATED = ("/version",)  # the build's own facts, which SDKs use to find a member that answers


def read_gate(ctx: ApiContext) -> tuple[Callable[[], Awaitable[None]],
                                        Callable[[BaseException | None], Awaitable[None]]]:
    """A ``before_request`` hook holding a GET until it may be answered linearizably, and the
    ``teardown_request`` hook that lets writes go on after it."""

    async def before() -> None:
        replica = ctx.cluster
        if (replica is None or replica.config.reads != LINEARIZABLE_READS or request.method != "GET"
                or not request.path.startswith(GATED) or request.path.endswith(UNGATED)):
            return
        deadline = trio.current_time() + 2 * replica.config.timing.election_max
        await replica.read_barrier(deadline)
        await ctx.model.begin_committed_read(deadline)
        g.committed_read = True

    async def teardown(_exc: BaseException | None) -> None:
        if g.pop("committed_read", False):
            ctx.model.end_committed_read()

    return before, teardown
