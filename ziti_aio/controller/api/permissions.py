"""Who may do what on the management API (OpenZiti v2 permission model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ziti_aio.common.errors import PermissionDenied
from ziti_aio.controller.kinds import Kind

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller

# REST collection -> permission entity type; None means admin / admin_readonly only.
PERMISSION_TYPE: dict[str, str | None] = {
    Kind.IDENTITIES: "identity",
    Kind.SERVICES: "service",
    Kind.CONFIGS: "config",
    Kind.CONFIG_TYPES: "config-type",
    Kind.EDGE_ROUTERS: "router",
    Kind.SERVICE_POLICIES: "service-policy",
    Kind.EDGE_ROUTER_POLICIES: "edge-router-policy",
    Kind.SERVICE_EDGE_ROUTER_POLICIES: "service-edge-router-policy",
    Kind.ENROLLMENTS: "enrollment",
    Kind.AUTHENTICATORS: None,
    Kind.TERMINATORS: "terminator",
    Kind.CAS: "ca",
    Kind.EXTERNAL_JWT_SIGNERS: "external-jwt-signer",
    Kind.POSTURE_CHECKS: "posture-check",
    Kind.API_SESSIONS: "ops",
    Kind.SESSIONS: "ops",
    Kind.REVOCATIONS: "ops",
    "identity-role-attributes": "identity",
    "service-role-attributes": "service",
    "edge-router-role-attributes": "router",
    "posture-check-role-attributes": "posture-check",
}

METHOD_ACTION = {"GET": "read", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def allowed(perms: set[str], kind: str, action: str) -> bool:
    """Does a caller holding ``perms`` may do ``action`` on ``kind``?"""
    if "admin" in perms:
        return True
    if action == "read" and "admin_readonly" in perms:
        return True
    ptype = PERMISSION_TYPE.get(kind)
    return ptype is not None and (ptype in perms or f"{ptype}.{action}" in perms)


def require(caller: Caller, kind: str, action: str) -> None:
    if not allowed(caller.permissions(), kind, action):
        raise PermissionDenied()


def check_grant(caller: Caller, body: object) -> None:
    """An identity can never grant admin or permissions it does not hold itself."""
    if not isinstance(body, dict):
        return
    perms = caller.permissions()
    if "admin" in perms:
        return
    if body.get("isAdmin"):
        raise PermissionDenied("only an admin can create or update an admin")
    for p in body.get("permissions") or ():
        if not isinstance(p, str):
            continue
        base = p.split(".", 1)[0]
        if p not in perms and base not in perms:
            raise PermissionDenied(f"cannot grant permission {p!r} the caller does not hold")
