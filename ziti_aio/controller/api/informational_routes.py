"""What both APIs say about the controller itself: its cluster members, capabilities, network JWT and specs.

OpenZiti answers these on the Edge Client and Management APIs alike (docs/sdk-1x.md §7); the client's
``/controllers`` shows only client addresses and needs a session, the management's needs admin read rights.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import Encoding
from quart import Blueprint, Response, current_app, request

from ziti_aio.common import api_paths
from ziti_aio.common.errors import NotFoundError
from ziti_aio.controller.api.app import ApiContext, caller
from ziti_aio.controller.api.envelope import ok
from ziti_aio.controller.api.listing import Filterable, page
from ziti_aio.controller.api.permissions import require
from ziti_aio.controller.model.views import links
from ziti_aio.pki.bundle import fingerprint_sha1

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity

CLIENT_API = "edge-client"
MANAGEMENT_API = "edge-management"
API_PATHS = {CLIENT_API: api_paths.CLIENT, MANAGEMENT_API: api_paths.MANAGEMENT}
# Every capability string /version may list (OpenZiti's enumeration, not what this controller has enabled).
CAPABILITIES = ["OIDC_AUTH", "HA_CONTROLLER"]


def controller_detail(ctx: ApiContext, api: str) -> dict[str, Any]:
    """This controller as ``controllerDetail``; the client API lists only the client API's address."""
    shown = [CLIENT_API] if api == CLIENT_API else [CLIENT_API, MANAGEMENT_API]
    cert = ctx.server_cert
    return {
        "id": ctx.instance_id, "name": urlsplit(ctx.base_url).hostname or ctx.instance_id,
        "createdAt": ctx.started_at, "updatedAt": ctx.started_at, "tags": {},
        "_links": links("controllers", ctx.instance_id),
        "apiAddresses": {name: [{"url": ctx.base_url + API_PATHS[name], "version": "v1"}] for name in shown},
        "certPem": cert.public_bytes(Encoding.PEM).decode() if cert else "",
        "fingerprint": fingerprint_sha1(cert) if cert else "",
        "isOnline": True, "isPreferredLeader": False, "lastJoinedAt": ctx.started_at,
    }


def cluster_details(ctx: ApiContext, api: str) -> list[dict[str, Any]]:
    """Every cluster member as ``controllerDetail``: this one in full, the others with their API address
    (a member's Raft address is its API address) and whether this member reaches them."""
    assert ctx.cluster is not None
    shown = [CLIENT_API] if api == CLIENT_API else [CLIENT_API, MANAGEMENT_API]
    out = []
    for member in ctx.cluster.members():
        if member["id"] == ctx.cluster.node_id:
            out.append({**controller_detail(ctx, api), "id": member["id"],
                        "_links": links("controllers", member["id"])})
            continue
        base = f"https://{member['address']}"
        out.append({
            "id": member["id"], "name": member["id"], "createdAt": ctx.started_at, "updatedAt": ctx.started_at,
            "tags": {}, "_links": links("controllers", member["id"]),
            "apiAddresses": {name: [{"url": base + API_PATHS[name], "version": "v1"}] for name in shown},
            "certPem": "", "fingerprint": "", "isOnline": member["connected"], "isPreferredLeader": False,
            "lastJoinedAt": ctx.started_at,
        })
    return out


def _spec(ctx: ApiContext, ident: str) -> Entity:
    return {"id": ident, "name": ident, "createdAt": ctx.started_at, "updatedAt": ctx.started_at, "tags": {},
            "_links": {**links("specs", ident), "spec": {"href": f"./specs/{ident}/spec"}}}


def served_spec(ident: str, version: str) -> dict[str, Any]:
    """A Swagger 2.0 outline of API ``ident`` as this controller serves it: its paths and methods, no schemas
    (OpenZiti's own document would claim operations we do not answer)."""
    prefix = API_PATHS[ident]
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith(prefix + "/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + ("id" if m[1] == "ident" else m[1]) + "}",
                      rule.rule[len(prefix):])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = {"responses": {"default": {"description": "an envelope"}}}
    return {"swagger": "2.0", "info": {"title": f"ziti-aio {ident}", "version": version}, "basePath": prefix,
            "paths": dict(sorted(paths.items()))}


def add_informational_routes(bp: Blueprint, ctx: ApiContext, api: str) -> None:
    """Register the routes on ``bp``, the blueprint of ``api`` (``edge-client`` or ``edge-management``)."""

    @bp.get("/controllers")
    async def controllers() -> Response:
        found = caller(ctx)
        if api == MANAGEMENT_API:
            require(found, "controllers", "read")
        details = cluster_details(ctx, api) if ctx.cluster is not None else [controller_detail(ctx, api)]
        items, meta = page(details, request.args, Filterable.of("name", "isOnline"))
        return ok(items, meta)

    @bp.get("/enumerated-capabilities")
    async def enumerated_capabilities() -> Response:
        return ok(CAPABILITIES)

    @bp.get("/network-jwts")
    async def network_jwts() -> Response:
        if ctx.network_jwt is None:
            return ok([])
        return ok([{"name": "default", "token": ctx.network_jwt()}])

    @bp.get("/specs")
    async def specs() -> Response:
        return ok([_spec(ctx, api)])

    @bp.get("/specs/<ident>")
    async def spec(ident: str) -> Response:
        if ident not in API_PATHS:
            raise NotFoundError("spec", ident)
        return ok(_spec(ctx, ident))

    @bp.get("/specs/<ident>/spec")
    async def spec_body(ident: str) -> Response:
        """The outline as a JSON string in ``data`` (the declared ``specBodyDetail``)."""
        if ident not in API_PATHS:
            raise NotFoundError("spec", ident)
        return ok(json.dumps(served_spec(ident, ctx.version), indent=2))
