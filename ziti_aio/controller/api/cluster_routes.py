"""The fabric API's ``cluster/*`` operations: list the members, add, remove, move the leadership.

A single controller answers them with OpenZiti's "not running in HA mode" error; a cluster member
answers for real (docs/ha.md). Changes must be made on the leader (a follower answers 503 naming it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ziti_aio import __version__
from ziti_aio.common.errors import NotInHaMode, ValidationError
from ziti_aio.controller.api.app import ApiContext, read_json
from ziti_aio.controller.api.envelope import ok
from ziti_aio.controller.cluster import membership

if TYPE_CHECKING:
    from collections.abc import Callable

    from quart import Blueprint, Response

    from ziti_aio.controller.cluster.replica import Replica
    from ziti_aio.controller.model.access import Caller


def member_rows(replica: Replica) -> list[dict[str, Any]]:
    """``clusterMemberListValue`` rows (OpenZiti's shape), this member first."""
    return [{"id": m["id"], "address": f"tls:{m['address']}", "voter": m["voter"], "leader": m["leader"],
             "version": f"v{__version__}", "connected": m["connected"], "readOnly": False,
             "preferredLeader": False} for m in replica.members()]


def add_cluster_routes(bp: Blueprint, ctx: ApiContext, authorize: Callable[[str], Caller]) -> None:
    """Register ``/cluster/*`` on the fabric blueprint ``bp``."""

    def replica() -> Replica:
        authorize("cluster")
        if ctx.cluster is None:
            raise NotInHaMode()
        return ctx.cluster

    async def body(*required: str) -> dict[str, Any]:
        raw = await read_json()
        if not isinstance(raw, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        for name in required:
            if not isinstance(raw.get(name), str) or not raw[name]:
                raise ValidationError(f"{name} is required", field=name, value=raw.get(name))
        return raw

    @bp.get("/cluster/list-members")
    async def list_members() -> Response:
        return ok(member_rows(replica()))

    @bp.post("/cluster/add-member")
    async def add_member() -> Response:
        member = replica()
        raw = await body("address")
        voter = raw.get("isVoter", True)
        if not isinstance(voter, bool):
            raise ValidationError("isVoter must be a boolean", field="isVoter", value=voter)
        await membership.add_member(member, raw["address"], voter=voter)
        return ok({})

    @bp.post("/cluster/remove-member")
    async def remove_member() -> Response:
        member = replica()
        await membership.remove_member(member, (await body("id"))["id"])
        return ok({})

    @bp.post("/cluster/transfer-leadership")
    async def transfer_leadership() -> Response:
        member = replica()
        raw = await body()
        target = raw.get("newLeaderId")
        if target is not None and not isinstance(target, str):
            raise ValidationError("newLeaderId must be a string", field="newLeaderId", value=target)
        await membership.transfer_leadership(member, target or None)
        return ok({})
