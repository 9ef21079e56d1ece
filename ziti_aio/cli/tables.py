"""Plain aligned tables for ``ziti-aio list``: the main columns per kind and ziti's ``results:`` footer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Cell = Callable[[Any], str]
COLUMN_GAP = "  "


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def field(name: str) -> Cell:
    return lambda e: _text(e.get(name))


def ref_name(name: str) -> Cell:
    """The ``name`` of an entity reference such as ``configType``."""
    return lambda e: _text((e.get(name) or {}).get("name"))


def roles(name: str) -> Cell:
    """A role list with ``@id`` shown as ``@name`` (from ``<name>Display``)."""

    def cell(e: dict[str, Any]) -> str:
        shown = e.get(name + "Display")
        if isinstance(shown, list):
            return _text([d.get("name") or d.get("role") for d in shown if isinstance(d, dict)])
        return _text(e.get(name))

    return cell


def _authenticator_detail(e: dict[str, Any]) -> str:
    return _text(e.get("username") if e.get("method") == "updb" else e.get("fingerprint"))


ID, NAME, ATTRIBUTES = ("ID", field("id")), ("NAME", field("name")), ("ROLE ATTRIBUTES", field("roleAttributes"))
COLUMNS: dict[str, list[tuple[str, Cell]]] = {
    "identities": [ID, NAME, ("TYPE", field("typeId")), ATTRIBUTES, ("IS ADMIN", field("isAdmin")),
                   ("AUTH POLICY", field("authPolicyId"))],
    "services": [ID, NAME, ("ENCRYPTION REQUIRED", field("encryptionRequired")),
                 ("TERMINATOR STRATEGY", field("terminatorStrategy")), ATTRIBUTES],
    "configs": [ID, NAME, ("CONFIG TYPE", ref_name("configType"))],
    "config-types": [ID, NAME, ("TARGET", field("target"))],
    "edge-routers": [ID, NAME, ("IS ONLINE", field("isOnline")), ("IS VERIFIED", field("isVerified")),
                     ("COST", field("cost")), ("TUNNELER", field("isTunnelerEnabled")), ATTRIBUTES],
    "transit-routers": [ID, NAME, ("IS ONLINE", field("isOnline")), ("IS VERIFIED", field("isVerified")),
                        ("COST", field("cost")), ("NO TRAVERSAL", field("noTraversal"))],
    "links": [ID, ("SOURCE", ref_name("sourceRouter")), ("DESTINATION", ref_name("destRouter")),
              ("STATE", field("state")), ("COST", field("cost")), ("STATIC COST", field("staticCost")),
              ("DOWN", field("down"))],
    "circuits": [ID, ("SERVICE", ref_name("service")), ("CLIENT", field("clientId")),
                 ("PATH", lambda e: " -> ".join((e.get("path") or {}).get("nodes") or []))],
    "service-policies": [ID, NAME, ("TYPE", field("type")), ("SEMANTIC", field("semantic")),
                         ("IDENTITY ROLES", roles("identityRoles")), ("SERVICE ROLES", roles("serviceRoles")),
                         ("POSTURE CHECK ROLES", roles("postureCheckRoles"))],
    "edge-router-policies": [ID, NAME, ("SEMANTIC", field("semantic")),
                             ("EDGE ROUTER ROLES", roles("edgeRouterRoles")),
                             ("IDENTITY ROLES", roles("identityRoles"))],
    "service-edge-router-policies": [ID, NAME, ("SEMANTIC", field("semantic")),
                                     ("EDGE ROUTER ROLES", roles("edgeRouterRoles")),
                                     ("SERVICE ROLES", roles("serviceRoles"))],
    "posture-checks": [ID, NAME, ("TYPE", field("typeId")), ATTRIBUTES],
    "cas": [ID, NAME, ("VERIFIED", field("isVerified")), ("AUTH", field("isAuthEnabled")),
            ("OTTCA", field("isOttCaEnrollmentEnabled")), ("AUTOCA", field("isAutoCaEnrollmentEnabled")),
            ("IDENTITY ROLES", field("identityRoles"))],
    "external-jwt-signers": [ID, NAME, ("ENABLED", field("enabled")), ("ISSUER", field("issuer")),
                             ("AUDIENCE", field("audience")), ("CLAIMS PROPERTY", field("claimsProperty")),
                             ("EXTERNAL ID", field("useExternalId")),
                             ("JWKS / FINGERPRINT", lambda e: _text(e.get("jwksEndpoint") or e.get("fingerprint")))],
    "enrollments": [ID, ("METHOD", field("method")), ("IDENTITY", ref_name("identity")),
                    ("EDGE ROUTER ID", field("edgeRouterId")), ("USERNAME", field("username")),
                    ("EXPIRES AT", field("expiresAt"))],
    "authenticators": [ID, ("METHOD", field("method")), ("IDENTITY", ref_name("identity")),
                       ("USERNAME / FINGERPRINT", _authenticator_detail)],
    "terminators": [ID, ("SERVICE", ref_name("service")), ("ROUTER", ref_name("router")),
                    ("BINDING", field("binding")), ("ADDRESS", field("address")), ("COST", field("cost")),
                    ("PRECEDENCE", field("precedence"))],
    "auth-policies": [ID, NAME, ("CERT", lambda e: _text(e["primary"]["cert"]["allowed"])),
                      ("UPDB", lambda e: _text(e["primary"]["updb"]["allowed"])),
                      ("EXT JWT", lambda e: _text(e["primary"]["extJwt"]["allowed"])),
                      ("REQUIRE TOTP", lambda e: _text(e["secondary"]["requireTotp"]))],
    "api-sessions": [ID, ("IDENTITY", ref_name("identity")), ("IP ADDRESS", field("ipAddress")),
                     ("LAST ACTIVITY", field("lastActivityAt"))],
    "sessions": [ID, ("TYPE", field("type")), ("SERVICE", ref_name("service")), ("IDENTITY ID", field("identityId")),
                 ("API SESSION ID", field("apiSessionId"))],
}
ATTRIBUTE_COLUMNS: list[tuple[str, Cell]] = [("ROLE ATTRIBUTE", _text)]


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [COLUMN_GAP.join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows]


def footer(meta: dict[str, Any], shown: int) -> str:
    """``results: 1-3 of 3`` (or ``results: none``), as ziti prints it."""
    paging = meta.get("pagination") or {}
    total = paging.get("totalCount", shown)
    if not shown:
        return "results: none"
    offset = int(paging.get("offset") or 0)
    return f"results: {offset + 1}-{offset + shown} of {total}"


def render(collection: str, body: dict[str, Any]) -> str:
    """The table for a list response of ``collection`` (an attribute list when ``collection`` ends so)."""
    items = body.get("data") or []
    columns = ATTRIBUTE_COLUMNS if collection.endswith("-role-attributes") else COLUMNS.get(collection, [ID, NAME])
    rows = [[header for header, _ in columns]]
    rows += [[cell(item) for _, cell in columns] for item in items]
    lines = _aligned(rows) if items else []
    lines.append(footer(body.get("meta") or {}, len(items)))
    return "\n".join(lines)
