"""How each kind looks from outside: the fields a view computes rather than copies.

A kind's record (:mod:`.records`) lists every field the API shows, in order; a field its view
does not compute is copied as stored. Anything else, a view's extra keys included, never
leaves (:meth:`.records.KindRecord.render`). Per-request look-ups (the caller's services, a
router's live state) are made once per :class:`ViewContext`, so a page of 500 costs one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.model.mfa import auth_queries, is_mfa_enabled
from ziti_aio.controller.model.service_configs import overrides

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

RouterState = Callable[[str], dict[str, Any]]
# A service id -> the caller's ``postureQueries`` for it (docs/posture.md §2).
PostureQueries = Callable[[str], list[dict[str, Any]]]
# A view: the fields of one entity it computes (the rest of the kind's shown fields are copied).
View = Callable[["ViewContext", "Entity"], dict[str, Any]]
# What a view computes for a shown field this entity must not carry at all (rather than ``null``).
OMITTED: Any = object()
# What a router that never said its version reports (docs/conformance.md: versionInfo is never null).
UNKNOWN_VERSION = {"version": "", "revision": "", "buildDate": "", "os": "", "arch": ""}
# Stands in for a secret the schema requires (a token outside its own session).
REDACTED = "[redacted]"


def links(kind: str, ident: str) -> dict[str, Any]:
    return {"self": {"href": f"./{kind}/{ident}"}}


def ref(kind: str, entity: Entity | None, entity_type: str | None = None) -> dict[str, Any] | None:
    """OpenZiti's reference to another entity (``None`` when it does not exist)."""
    if entity is None:
        return None
    return {"id": entity["id"], "name": entity.get("name", entity["id"]), "entity": entity_type or kind,
            "_links": links(kind, entity["id"])}


def base(kind: str, e: Entity) -> dict[str, Any]:
    """The fields every rendered entity has."""
    return {"id": e["id"], "createdAt": e["createdAt"], "updatedAt": e["updatedAt"], "tags": e.get("tags") or {},
            "_links": links(kind, e["id"])}


def offline_router(router_id: str) -> dict[str, Any]:
    """The live state of a router that is not connected."""
    return {"isOnline": False, "supportedProtocols": {}, "syncStatus": "SYNC_UNKNOWN", "versionInfo": None}


class ViewContext:
    """What views may read for one request: the model, routers' live state, the caller."""

    def __init__(self, model: Model, *, router_state: RouterState = offline_router,
                 caller_identity_id: str | None = None, config_type_ids: list[str] | None = None,
                 posture_queries: PostureQueries | None = None) -> None:
        self.model = model
        self.router_state = router_state
        self.caller_identity_id = caller_identity_id
        self.config_type_ids = config_type_ids
        self.posture_queries = posture_queries

    @cached_property
    def caller_permissions(self) -> dict[str, set[str]]:
        """service id -> the caller's ``Dial``/``Bind`` permissions."""
        if self.caller_identity_id is None:
            return {}
        return self.model.policy.service_permissions(self.caller_identity_id)

    @cached_property
    def caller_overrides(self) -> dict[str, dict[str, str]]:
        """service id -> config type id -> config id: the caller's own service configs."""
        identity = self.model.maybe(Kind.IDENTITIES, self.caller_identity_id)
        return overrides(identity) if identity is not None else {}


# --- identities, services, configs ----------------------------------------------------------

def identity_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    auths: dict[str, Any] = {}
    for a in ctx.model.owned_by(Kind.AUTHENTICATORS, e["id"]):
        if a["method"] == "cert":
            auths["cert"] = {"id": a["id"], "fingerprint": a.get("fingerprint")}
        else:
            auths["updb"] = {"id": a["id"], "username": a.get("username")}
    enrollment: dict[str, Any] = {}
    for en in ctx.model.owned_by(Kind.ENROLLMENTS, e["id"]):
        enrollment[en["method"]] = {"id": en["id"], "token": en["token"], "jwt": en["jwt"],
                                    "expiresAt": en["expiresAt"], **({"username": en["username"]}
                                                                     if en.get("username") else {})}
        if en.get("caId"):
            enrollment[en["method"]].update(caId=en["caId"], ca=ref(Kind.CAS, ctx.model.maybe(Kind.CAS, en["caId"])))
    policy_id = e["authPolicyId"]
    policy = ctx.model.maybe(Kind.AUTH_POLICIES, policy_id)
    return {
        "type": {"id": e["typeId"], "name": e["typeId"], "entity": "identity-types",
                 "_links": links("identity-types", e["typeId"])},
        "authPolicy": {"id": policy_id, "name": policy["name"] if policy else policy_id,
                       "entity": "auth-policies", "_links": links("auth-policies", policy_id)},
        "sdkInfo": e.get("sdkInfo") or {}, "envInfo": e.get("envInfo") or {},
        "isDefaultAdmin": e.get("isDefaultAdmin", False), "appData": e.get("appData") or {},
        "permissions": e.get("permissions", []), "disabled": is_disabled(e), "disabledAt": e.get("disabledAt"),
        "disabledUntil": e.get("disabledUntil"), "hasApiSession": bool(ctx.model.owned[Kind.API_SESSIONS].get(e["id"])),
        "hasEdgeRouterConnection": False, "edgeRouterConnectionStatus": "offline",
        "isMfaEnabled": is_mfa_enabled(ctx.model, e["id"]),
        "authenticators": auths, "enrollment": enrollment,
    }


def service_configs(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    """config type name -> data of a service's configs (only the caller's config types, if it chose),
    the caller's own overrides replacing the service's config of their type."""
    out: dict[str, Any] = {}
    chosen = {}
    for cid in e["configs"]:
        config = ctx.model.maybe(Kind.CONFIGS, cid)
        if config is not None:
            chosen[config["configTypeId"]] = cid
    chosen.update(ctx.caller_overrides.get(e["id"], {}))
    for cid in chosen.values():
        config = ctx.model.maybe(Kind.CONFIGS, cid)
        if config is None:
            continue
        if ctx.config_type_ids is not None and config["configTypeId"] not in ctx.config_type_ids:
            continue
        ctype = ctx.model.maybe(Kind.CONFIG_TYPES, config["configTypeId"])
        if ctype is not None:
            out[ctype["name"]] = config["data"]
    return out


def service_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {"config": service_configs(ctx, e), "permissions": sorted(ctx.caller_permissions.get(e["id"], ())),
            "postureQueries": ctx.posture_queries(e["id"]) if ctx.posture_queries is not None else []}


def config_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {"configType": ref(Kind.CONFIG_TYPES, ctx.model.maybe(Kind.CONFIG_TYPES, e["configTypeId"]))}


def config_type_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {"schema": e.get("schema") or {}, "target": e.get("target", "service")}


# --- edge routers ---------------------------------------------------------------------------

def edge_router_common(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    """The fields an edge router has in every shape (detail, and a session's router list)."""
    state = ctx.router_state(e["id"])
    return {
        "name": e["name"], "hostname": state.get("hostname", ""), "supportedProtocols":
        state.get("supportedProtocols") or {}, "syncStatus": state.get("syncStatus", "SYNC_UNKNOWN"),
        "isOnline": bool(state.get("isOnline")), "cost": e["cost"], "noTraversal": e["noTraversal"],
        "disabled": e["disabled"], "appData": e.get("appData") or {},
    }


def edge_router_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    pending = next(iter(ctx.model.where(Kind.ENROLLMENTS, edgeRouterId=e["id"])), None)
    version = ctx.router_state(e["id"]).get("versionInfo") or UNKNOWN_VERSION
    return {
        **edge_router_common(ctx, e), "isVerified": e.get("isVerified", False),
        "fingerprint": e.get("fingerprint") or "",
        "enrollmentToken": pending["token"] if pending else None,
        "enrollmentJwt": pending["jwt"] if pending else None,
        "enrollmentCreatedAt": pending["createdAt"] if pending else None,
        "enrollmentExpiresAt": pending["expiresAt"] if pending else None,
        # The schema also requires the version fields at the top level, beside versionInfo.
        "versionInfo": version, **version,
        "ctrlChanListeners": e.get("ctrlChanListeners") or {},
        "unverifiedFingerprint": None, "unverifiedCertPem": None, "interfaces": [],
    }


def session_edge_routers(ctx: ViewContext, routers: list[Entity]) -> list[dict[str, Any]]:
    """The routers of a new session, in the shape the SDK reads (``urls`` by protocol)."""
    out = []
    for r in routers:
        common = edge_router_common(ctx, r)
        out.append({**common, "urls": common["supportedProtocols"]})
    return out


# --- policies -------------------------------------------------------------------------------

def _roles_display(ctx: ViewContext, roles: list[str], kind: Kind | None) -> list[dict[str, str]]:
    """Each role with its display name: ``@id`` shown as ``@name`` when ``kind`` has that entity."""
    out = []
    for role in roles:
        name = role
        if role.startswith("@") and kind is not None:
            target = ctx.model.maybe(kind, role[1:])
            name = "@" + target["name"] if target else role
        out.append({"role": role, "name": name})
    return out


def _displays(ctx: ViewContext, e: Entity, sides: dict[str, Kind | None]) -> dict[str, Any]:
    return {field + "Display": _roles_display(ctx, e[field], kind) for field, kind in sides.items()}


def service_policy_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return _displays(ctx, e, {"identityRoles": Kind.IDENTITIES, "serviceRoles": Kind.SERVICES,
                              "postureCheckRoles": Kind.POSTURE_CHECKS})


def edge_router_policy_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {**_displays(ctx, e, {"identityRoles": Kind.IDENTITIES, "edgeRouterRoles": Kind.EDGE_ROUTERS}),
            "isSystem": e.get("isSystem", False)}


def service_edge_router_policy_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return _displays(ctx, e, {"serviceRoles": Kind.SERVICES, "edgeRouterRoles": Kind.EDGE_ROUTERS})


# --- enrollment and authentication ----------------------------------------------------------

def enrollment_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    # An owner's reference only when there is one (an entityRef is not x-nullable).
    identity = ref(Kind.IDENTITIES, ctx.model.maybe(Kind.IDENTITIES, e.get("identityId")))
    router = ref(Kind.EDGE_ROUTERS, ctx.model.maybe(Kind.EDGE_ROUTERS, e.get("edgeRouterId")))
    return {"identityId": e.get("identityId") or "", "identity": OMITTED if identity is None else identity,
            "edgeRouterId": e.get("edgeRouterId") or "", "edgeRouter": OMITTED if router is None else router,
            "transitRouterId": "", "username": e.get("username") or "",
            # Required by the schema, which declares nothing inside it; OpenZiti's clients ignore it.
            "details": {}}


def authenticator_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {
        "identity": ref(Kind.IDENTITIES, ctx.model.maybe(Kind.IDENTITIES, e["identityId"])),
        "fingerprint": e.get("fingerprint") or "", "certPem": e.get("certPem") or "",
        "username": e.get("username") or "",
        "isIssuedByNetwork": e["method"] == "cert" and not e.get("caId"),
        "isExtendRequested": e.get("isExtendRequested", False),
        "isKeyRollRequested": e.get("isKeyRollRequested", False),
    }


def revocation_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    """A revoked session token is what OpenZiti calls a JTI revocation."""
    return {"type": "JTI" if e["type"] == "SESSION" else e["type"]}


def api_session_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {
        "identity": ref(Kind.IDENTITIES, ctx.model.maybe(Kind.IDENTITIES, e["identityId"])),
        "ipAddress": e.get("ipAddress", ""), "configTypes": e.get("configTypes", []),
        "cachedLastActivityAt": e.get("lastActivityAt"), "isMfaRequired": bool(e.get("isMfaRequired")),
        "isMfaComplete": bool(e.get("isMfaComplete")), "authQueries": auth_queries(ctx.model, e),
        "token": REDACTED, "cachedUpdatedAt": e["updatedAt"], "isCertExtendable": False,
    }


def session_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {
        "service": ref(Kind.SERVICES, ctx.model.maybe(Kind.SERVICES, e["serviceId"])),
        "apiSession": {"id": e["apiSessionId"], "_links": links(Kind.API_SESSIONS, e["apiSessionId"])},
        "edgeRouters": session_edge_routers(ctx, ctx.model.session_routers(e["identityId"], e["serviceId"])),
        "token": REDACTED,
    }


# --- terminators ----------------------------------------------------------------------------

def terminator_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    return {
        "serviceId": e["service"], "service": ref(Kind.SERVICES, ctx.model.maybe(Kind.SERVICES, e["service"])),
        "routerId": e["router"],
        "router": ref(Kind.EDGE_ROUTERS, ctx.model.maybe(Kind.EDGE_ROUTERS, e["router"])),
        "identity": e.get("identity") or "", "dynamicCost": 0,
    }


# --- policy advice --------------------------------------------------------------------------

def policy_advice(ctx: ViewContext, identity: Entity, service: Entity) -> dict[str, Any]:
    """Why ``identity`` may or may not dial or bind ``service``: its permissions from service
    policies, the routers each side reaches through edge router and service edge router policies,
    and the routers they share with whether each is online (OpenZiti's ``policyAdvice``)."""
    policy = ctx.model.policy
    permissions = policy.permissions_for(identity["id"], service["id"])
    common = ctx.model.pick(Kind.EDGE_ROUTERS, sorted(policy.session_edge_routers(identity["id"], service["id"])))
    return {
        "identityId": identity["id"], "identity": ref(Kind.IDENTITIES, identity),
        "serviceId": service["id"], "service": ref(Kind.SERVICES, service),
        "isDialAllowed": "Dial" in permissions, "isBindAllowed": "Bind" in permissions,
        "identityRouterCount": len(policy.identity_edge_routers(identity["id"])),
        "serviceRouterCount": len(policy.service_edge_routers(service["id"])),
        "commonRouters": [{**(ref(Kind.EDGE_ROUTERS, r) or {}),
                           "isOnline": bool(ctx.router_state(r["id"]).get("isOnline"))} for r in common],
    }


def identity_service_configs(ctx: ViewContext, identity: Entity) -> list[dict[str, Any]]:
    """An identity's service config overrides as OpenZiti lists them (``serviceConfigDetail``)."""
    out = []
    for service_id, types in overrides(identity).items():
        service = ctx.model.maybe(Kind.SERVICES, service_id)
        for config_id in types.values():
            config = ctx.model.maybe(Kind.CONFIGS, config_id)
            if service is not None and config is not None:
                out.append({"serviceId": service_id, "service": ref(Kind.SERVICES, service),
                            "configId": config_id, "config": ref(Kind.CONFIGS, config)})
    return out
