"""Stored entities rendered as OpenZiti's REST detail shapes.

Secrets never leave here: password hashes, session tokens in management listings and
private keys are not rendered. Per-request look-ups (authenticators and enrollments per
identity) are built once per :class:`Renderer`, so a page of 500 costs one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ziti_aio.controller.model.access import session_routers

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

RouterState = Callable[[str], dict[str, Any]]
# What a router that never said its version reports (docs/conformance.md: versionInfo is never null).
UNKNOWN_VERSION = {"version": "", "revision": "", "buildDate": "", "os": "", "arch": ""}
# Stands in for a secret the schema requires (an API session's token outside its own session).
REDACTED = "[redacted]"


def links(kind: str, ident: str) -> dict[str, Any]:
    return {"self": {"href": f"./{kind}/{ident}"}}


def ref(kind: str, entity: Entity | None, entity_type: str | None = None) -> dict[str, Any] | None:
    if entity is None:
        return None
    return {"id": entity["id"], "name": entity.get("name", entity["id"]), "entity": entity_type or kind,
            "_links": links(kind, entity["id"])}


def base(kind: str, e: Entity) -> dict[str, Any]:
    return {"id": e["id"], "createdAt": e["createdAt"], "updatedAt": e["updatedAt"], "tags": e.get("tags") or {},
            "_links": links(kind, e["id"])}


def offline_router(router_id: str) -> dict[str, Any]:
    return {"isOnline": False, "supportedProtocols": {}, "syncStatus": "SYNC_UNKNOWN", "versionInfo": None}


class Renderer:
    """Renders entities for one request."""

    def __init__(self, model: Model, *, router_state: RouterState = offline_router,
                 caller_identity_id: str | None = None, config_type_ids: list[str] | None = None) -> None:
        self.model = model
        self.router_state = router_state
        self.caller_identity_id = caller_identity_id
        self.config_type_ids = config_type_ids

    @cached_property
    def _caller_permissions(self) -> dict[str, set[str]]:
        if self.caller_identity_id is None:
            return {}
        return self.model.policy.service_permissions(self.caller_identity_id)

    def render(self, kind: str, e: Entity) -> dict[str, Any]:
        fn = getattr(self, "_" + kind.replace("-", "_"), None)
        out = base(kind, e)
        out.update(fn(e) if fn else {k: v for k, v in e.items() if k not in out})
        return out

    def _identities(self, e: Entity) -> dict[str, Any]:
        auths: dict[str, Any] = {}
        for a in self.model.owned_by("authenticators", e["id"]):
            if a["method"] == "cert":
                auths["cert"] = {"id": a["id"], "fingerprint": a.get("fingerprint")}
            else:
                auths["updb"] = {"id": a["id"], "username": a.get("username")}
        enrollment: dict[str, Any] = {}
        for en in self.model.owned_by("enrollments", e["id"]):
            enrollment[en["method"]] = {"id": en["id"], "token": en["token"], "jwt": en["jwt"],
                                        "expiresAt": en["expiresAt"], **({"username": en["username"]}
                                                                         if en.get("username") else {})}
            if en.get("caId"):
                enrollment[en["method"]].update(caId=en["caId"], ca=ref("cas", self.model.maybe("cas", en["caId"])))
        type_ref = {"id": e["typeId"], "name": e["typeId"], "entity": "identity-types",
                    "_links": links("identity-types", e["typeId"])}
        # The only auth policy is OpenZiti's system one, id "default", named "Default" (docs/conformance.md).
        policy_id = e["authPolicyId"]
        auth_policy = {"id": policy_id, "name": "Default" if policy_id == "default" else policy_id,
                       "entity": "auth-policies", "_links": links("auth-policies", policy_id)}
        return {
            "name": e["name"], "type": type_ref, "typeId": e["typeId"], "isAdmin": e["isAdmin"],
            "isDefaultAdmin": e.get("isDefaultAdmin", False), "roleAttributes": e["roleAttributes"],
            "authPolicyId": e["authPolicyId"], "authPolicy": auth_policy, "externalId": e.get("externalId"),
            "defaultHostingPrecedence": e["defaultHostingPrecedence"], "defaultHostingCost": e["defaultHostingCost"],
            "serviceHostingPrecedences": e["serviceHostingPrecedences"],
            "serviceHostingCosts": e["serviceHostingCosts"], "appData": e.get("appData") or {},
            "permissions": e.get("permissions", []), "disabled": e.get("disabled", False), "disabledAt": None,
            "disabledUntil": None, "sdkInfo": e.get("sdkInfo") or {}, "envInfo": e.get("envInfo") or {},
            "hasApiSession": bool(self.model.owned["api-sessions"].get(e["id"])), "hasEdgeRouterConnection": False,
            "edgeRouterConnectionStatus": "offline", "isMfaEnabled": False, "authenticators": auths,
            "enrollment": enrollment,
        }

    def service_configs(self, e: Entity) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cid in e["configs"]:
            config = self.model.maybe("configs", cid)
            if config is None:
                continue
            if self.config_type_ids is not None and config["configTypeId"] not in self.config_type_ids:
                continue
            ctype = self.model.maybe("config-types", config["configTypeId"])
            if ctype is not None:
                out[ctype["name"]] = config["data"]
        return out

    def _services(self, e: Entity) -> dict[str, Any]:
        perms = sorted(self._caller_permissions.get(e["id"], ()))
        return {
            "name": e["name"], "roleAttributes": e["roleAttributes"], "configs": e["configs"],
            "config": self.service_configs(e), "encryptionRequired": e["encryptionRequired"],
            "terminatorStrategy": e["terminatorStrategy"], "maxIdleTimeMillis": e["maxIdleTimeMillis"],
            "permissions": perms, "postureQueries": [],
        }

    def _configs(self, e: Entity) -> dict[str, Any]:
        return {"name": e["name"], "configTypeId": e["configTypeId"], "data": e["data"],
                "configType": ref("config-types", self.model.maybe("config-types", e["configTypeId"]))}

    def _config_types(self, e: Entity) -> dict[str, Any]:
        return {"name": e["name"], "schema": e.get("schema") or {}, "target": e.get("target", "service")}

    def edge_router_common(self, e: Entity) -> dict[str, Any]:
        state = self.router_state(e["id"])
        protocols = state.get("supportedProtocols") or {}
        return {
            "name": e["name"], "hostname": state.get("hostname", ""), "supportedProtocols": protocols,
            "syncStatus": state.get("syncStatus", "SYNC_UNKNOWN"), "isOnline": bool(state.get("isOnline")),
            "cost": e["cost"], "noTraversal": e["noTraversal"], "disabled": e["disabled"],
            "appData": e.get("appData") or {},
        }

    def _edge_routers(self, e: Entity) -> dict[str, Any]:
        pending = next(iter(self.model.where("enrollments", edgeRouterId=e["id"])), None)
        state = self.router_state(e["id"])
        version = state.get("versionInfo") or UNKNOWN_VERSION
        return {
            **self.edge_router_common(e), "roleAttributes": e["roleAttributes"],
            "isTunnelerEnabled": e["isTunnelerEnabled"], "isVerified": e.get("isVerified", False),
            "fingerprint": e.get("fingerprint") or "", "certPem": e.get("certPem"),
            "enrollmentToken": pending["token"] if pending else None,
            "enrollmentJwt": pending["jwt"] if pending else None,
            "enrollmentCreatedAt": pending["createdAt"] if pending else None,
            "enrollmentExpiresAt": pending["expiresAt"] if pending else None,
            # The schema also requires the version fields at the top level, beside versionInfo.
            "versionInfo": version, **version, "ctrlChanListeners": e.get("ctrlChanListeners") or {},
            "unverifiedFingerprint": None, "unverifiedCertPem": None, "interfaces": [],
        }

    def _roles_display(self, roles: list[str], kind: str) -> list[dict[str, str]]:
        out = []
        for role in roles:
            name = role
            if role.startswith("@"):
                target = self.model.maybe(kind, role[1:])
                name = "@" + target["name"] if target else role
            out.append({"role": role, "name": name})
        return out

    def _policy(self, e: Entity, sides: dict[str, str]) -> dict[str, Any]:
        out = {"name": e["name"], "semantic": e["semantic"]}
        for field, kind in sides.items():
            out[field] = e[field]
            out[field + "Display"] = self._roles_display(e[field], kind)
        return out

    def _service_policies(self, e: Entity) -> dict[str, Any]:
        out = self._policy(e, {"identityRoles": "identities", "serviceRoles": "services",
                               "postureCheckRoles": "posture-checks"})
        out["type"] = e["type"]
        return out

    def _edge_router_policies(self, e: Entity) -> dict[str, Any]:
        out = self._policy(e, {"identityRoles": "identities", "edgeRouterRoles": "edge-routers"})
        out["isSystem"] = e.get("isSystem", False)
        return out

    def _service_edge_router_policies(self, e: Entity) -> dict[str, Any]:
        return self._policy(e, {"serviceRoles": "services", "edgeRouterRoles": "edge-routers"})

    def _enrollments(self, e: Entity) -> dict[str, Any]:
        out = {
            "method": e["method"], "identityId": e.get("identityId") or "",
            "edgeRouterId": e.get("edgeRouterId") or "", "transitRouterId": "", "token": e["token"], "jwt": e["jwt"],
            "expiresAt": e["expiresAt"], "username": e.get("username") or "", "caId": e.get("caId"),
            # Required by the schema, which declares nothing inside it; OpenZiti's clients ignore it.
            "details": {},
        }
        # The owner's reference only when there is one (an entityRef is not x-nullable).
        identity = self.model.maybe("identities", e.get("identityId"))
        if identity is not None:
            out["identity"] = ref("identities", identity)
        router = self.model.maybe("edge-routers", e.get("edgeRouterId"))
        if router is not None:
            out["edgeRouter"] = ref("edge-routers", router)
        return out

    def _authenticators(self, e: Entity) -> dict[str, Any]:
        return {
            "method": e["method"], "identityId": e["identityId"],
            "identity": ref("identities", self.model.maybe("identities", e["identityId"])),
            "fingerprint": e.get("fingerprint") or "", "certPem": e.get("certPem") or "",
            "username": e.get("username") or "",
            "isIssuedByNetwork": e["method"] == "cert" and not e.get("caId"), "isExtendRequested": False,
            "isKeyRollRequested": False,
        }

    def _cas(self, e: Entity) -> dict[str, Any]:
        return {k: e.get(k) for k in (
            "name", "certPem", "fingerprint", "isVerified", "verificationToken", "isAuthEnabled",
            "isAutoCaEnrollmentEnabled", "isOttCaEnrollmentEnabled", "identityRoles", "identityNameFormat",
        )}

    def _terminators(self, e: Entity) -> dict[str, Any]:
        return {
            "serviceId": e["service"], "service": ref("services", self.model.maybe("services", e["service"])),
            "routerId": e["router"], "router": ref("edge-routers", self.model.maybe("edge-routers", e["router"])),
            "binding": e["binding"], "address": e["address"], "identity": e.get("identity") or "",
            "cost": e["cost"], "precedence": e["precedence"], "dynamicCost": 0,
        }

    def _api_sessions(self, e: Entity) -> dict[str, Any]:
        return {
            "identityId": e["identityId"],
            "identity": ref("identities", self.model.maybe("identities", e["identityId"])),
            "ipAddress": e.get("ipAddress", ""), "configTypes": e.get("configTypes", []),
            "authenticatorId": e.get("authenticatorId"), "lastActivityAt": e.get("lastActivityAt"),
            "cachedLastActivityAt": e.get("lastActivityAt"), "isMfaRequired": False, "isMfaComplete": False,
            "authQueries": [], "token": REDACTED, "cachedUpdatedAt": e["updatedAt"], "isCertExtendable": False,
        }

    def _sessions(self, e: Entity) -> dict[str, Any]:
        return {
            "type": e["type"], "apiSessionId": e["apiSessionId"], "serviceId": e["serviceId"],
            "identityId": e["identityId"],
            "service": ref("services", self.model.maybe("services", e["serviceId"])),
            "apiSession": {"id": e["apiSessionId"], "_links": links("api-sessions", e["apiSessionId"])},
            "edgeRouters": self.session_edge_routers(session_routers(self.model, e["identityId"], e["serviceId"])),
            "token": REDACTED,
        }

    def session_edge_routers(self, routers: list[Entity]) -> list[dict[str, Any]]:
        out = []
        for r in routers:
            common = self.edge_router_common(r)
            out.append({**common, "urls": common["supportedProtocols"]})
        return out
