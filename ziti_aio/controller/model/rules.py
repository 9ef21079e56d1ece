"""Kind-specific rules: reference resolution, dependent records, cascades and refusals.

Each class is the ``hooks`` of one or more kinds in :mod:`.records`; the functions at the end
build the commands of the management operations that are not plain create/update/delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ziti_aio.common.errors import ConflictError, NotFoundError, ValidationError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.auth_policies import DEFAULT_AUTH_POLICY_ID, identity_password_check
from ziti_aio.controller.model.cas import trusted_ca
from ziti_aio.controller.model.config_types import check_schema, validate_config_data
from ziti_aio.controller.model.fields import now_text, parse_time
from ziti_aio.controller.model.hooks import NoHooks
from ziti_aio.controller.model.revocations import api_session_revocation, revocation, session_revocation
from ziti_aio.controller.store.commands import Change, Delete, Put
from ziti_aio.pki.bundle import fingerprint_sha1, load_certs_pem

if TYPE_CHECKING:
    from datetime import datetime

    from ziti_aio.controller.model.enrollment_issuer import EnrollmentIssuer
    from ziti_aio.controller.model.model import Entity, Model

ROUTER_TYPE = "Router"


def _resolve(model: Model, kind: Kind, field: str, ref: str) -> str:
    """An id for ``ref`` given as an id or a name of ``kind``."""
    try:
        ident: str = model.find(kind, ref)["id"]
        return ident
    except NotFoundError:
        raise ValidationError(f"no {kind} with id or name {ref!r}", field=field, value=ref) from None


def _ottca(model: Model, field: str, ca_ref: Any) -> str:
    """The id of a verified CA that allows ottca enrollment, named by id or name."""
    if not isinstance(ca_ref, str) or not ca_ref:
        raise ValidationError("must name a CA", field=field, value=ca_ref)
    ca_id = _resolve(model, Kind.CAS, field, ca_ref)
    if trusted_ca(model, ca_id, "isOttCaEnrollmentEnabled") is None:
        raise ValidationError("the CA is not verified or does not allow ottca enrollment", field=field, value=ca_ref)
    return ca_id


def refuse_if_referenced(what: str, refs: list[Entity], by: str) -> None:
    """A :class:`ConflictError` naming (some of) ``refs`` when there are any."""
    if refs:
        names = ", ".join(sorted(str(r.get("name", r["id"])) for r in refs)[:5])
        raise ConflictError(f"the {what} is referenced by {by}: {names}")


def _identity_cleanup(model: Model, identity_id: str) -> list[Change]:
    changes: list[Change] = []
    for kind in (Kind.AUTHENTICATORS, Kind.ENROLLMENTS, Kind.MFAS):
        changes += [Delete(kind, e["id"]) for e in model.owned_by(kind, identity_id)]
    for api_session in model.owned_by(Kind.API_SESSIONS, identity_id):
        changes += [Delete(Kind.API_SESSIONS, api_session["id"]), revocation(api_session["id"], "API_SESSION")]
    for session in model.owned_by(Kind.SESSIONS, identity_id):
        changes += session_revocation(session)
    return changes


class IdentityRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        data["typeId"] = ROUTER_TYPE if data.pop("type", None) == ROUTER_TYPE else "Default"
        data["authPolicyId"] = _resolve(model, Kind.AUTH_POLICIES, "authPolicyId", data["authPolicyId"])
        if old is not None:
            if old.get("typeId") == ROUTER_TYPE:
                data["typeId"] = ROUTER_TYPE
            for kept in ("isDefaultAdmin", "disabled", "sdkInfo", "envInfo"):
                if kept in old:
                    data[kept] = old[kept]
        data.setdefault("isDefaultAdmin", False)
        data.setdefault("disabled", False)
        if data.get("externalId") == "":
            data["externalId"] = None
        other = model.lookup(Kind.IDENTITIES, "externalId", data.get("externalId"))
        if other is not None and other["id"] != data["id"]:
            raise ValidationError(f"externalId must be unique: identity {other['name']!r} has it",
                                  field="externalId", value=data["externalId"])

    def on_create(self, model: Model, data: Entity, body: Mapping[str, Any]) -> list[Change]:
        enrollment = body.get("enrollment")
        if enrollment is None:
            return []
        if not isinstance(enrollment, Mapping):
            raise ValidationError("must be an object", field="enrollment", value=enrollment)
        if enrollment.get("ott") is True:
            return [Put(Kind.ENROLLMENTS, self.deps.issuer.new("ott", identity_id=data["id"]))]
        if isinstance(enrollment.get("updb"), str) and enrollment["updb"]:
            return [Put(Kind.ENROLLMENTS, self.deps.issuer.new("updb", identity_id=data["id"],
                                                               username=enrollment["updb"]))]
        if "ottca" in enrollment:
            ca_id = _ottca(model, "enrollment.ottca", enrollment["ottca"])
            return [Put(Kind.ENROLLMENTS, self.deps.issuer.new("ottca", identity_id=data["id"], ca_id=ca_id))]
        raise ValidationError("expected {\"ott\": true}, {\"updb\": \"<username>\"} or {\"ottca\": \"<caId>\"}",
                              field="enrollment", value=enrollment)

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        if entity.get("isDefaultAdmin"):
            raise ConflictError("the default admin cannot be deleted")
        return _identity_cleanup(model, entity["id"])


class ServiceRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        ids: list[str] = []
        types: dict[str, str] = {}
        for ref in data["configs"]:
            config = model.maybe(Kind.CONFIGS, ref) or model.by_name(Kind.CONFIGS, ref)
            if config is None:
                raise ValidationError(f"no config with id or name {ref!r}", field="configs", value=ref)
            if config["configTypeId"] in types:
                raise ValidationError("a service may have only one config of each type",
                                      field="configs", value=ref)
            types[config["configTypeId"]] = config["id"]
            ids.append(config["id"])
        data["configs"] = ids

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        changes: list[Change] = []
        for session in model.where(Kind.SESSIONS, serviceId=entity["id"]):
            changes += session_revocation(session)
        changes += [Delete(Kind.TERMINATORS, t["id"]) for t in model.where(Kind.TERMINATORS, service=entity["id"])]
        return changes


class ConfigTypeRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        check_schema(data["schema"] or {})

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        refuse_if_referenced("config type", model.referencing(Kind.CONFIGS, "configTypeId", entity["id"]),
                             "configs")
        return []


class ConfigRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        data["configTypeId"] = _resolve(model, Kind.CONFIG_TYPES, "configTypeId", data["configTypeId"])
        if (old is not None and old["configTypeId"] != data["configTypeId"]
                and model.referencing(Kind.SERVICES, "configs", data["id"])):
            raise ValidationError("the config type of a config in use cannot change",
                                  field="configTypeId", value=data["configTypeId"])
        schema = model.get(Kind.CONFIG_TYPES, data["configTypeId"]).get("schema") or {}
        validate_config_data(schema, data["data"])

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        refuse_if_referenced("config", model.referencing(Kind.SERVICES, "configs", entity["id"]), "services")
        return []


class PolicyRules(NoHooks):
    """Role lists: ``@name`` is accepted and stored as ``@id``; unknown ``@`` refs refused."""

    TARGETS: ClassVar[dict[str, Kind]] = {"identityRoles": Kind.IDENTITIES, "serviceRoles": Kind.SERVICES,
                                          "edgeRouterRoles": Kind.EDGE_ROUTERS,
                                          "postureCheckRoles": Kind.POSTURE_CHECKS}

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        for field, kind in self.TARGETS.items():
            if field in data:
                data[field] = [
                    "@" + _resolve(model, kind, field, r[1:]) if r.startswith("@") else r for r in data[field]
                ]
        if old is not None and old.get("isSystem"):
            raise ConflictError("system policies cannot be changed")
        data.setdefault("isSystem", False)

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        if entity.get("isSystem"):
            raise ConflictError("system policies cannot be deleted")
        return []


class EdgeRouterRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        for kept in ("fingerprint", "certPem", "isVerified", "hostname", "supportedProtocols", "isTransit"):
            if old is not None and kept in old:
                data[kept] = old[kept]
        data.setdefault("isVerified", False)
        data.setdefault("fingerprint", None)
        data.setdefault("isTransit", False)

    def on_create(self, model: Model, data: Entity, body: Mapping[str, Any]) -> list[Change]:
        changes: list[Change] = [Put(Kind.ENROLLMENTS, self.deps.issuer.new("erott", edge_router_id=data["id"]))]
        if data["isTunnelerEnabled"]:
            changes += router_identity(model, data)
        return changes

    def on_update(self, model: Model, data: Entity, old: Entity) -> list[Change]:
        """Turning the tunneler on creates the router's identity, off deletes it (and with it
        whatever it could reach); a rename while on renames the identity, as OpenZiti does."""
        was, now = bool(old.get("isTunnelerEnabled")), bool(data.get("isTunnelerEnabled"))
        if now and not was:
            return router_identity(model, data)
        if was and not now:
            return _drop_router_identity(model, data["id"])
        identity = model.maybe(Kind.IDENTITIES, data["id"])
        if now and data["name"] != old["name"] and identity is not None and identity.get("typeId") == ROUTER_TYPE:
            if model.by_name(Kind.IDENTITIES, data["name"]) is not None:
                raise ValidationError("an identity with the router's name already exists", field="name",
                                      value=data["name"])
            return [Put(Kind.IDENTITIES, {**identity, "name": data["name"], "updatedAt": now_text()})]
        return []

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        rid = entity["id"]
        changes: list[Change] = [Delete(Kind.ENROLLMENTS, e["id"])
                                 for e in model.where(Kind.ENROLLMENTS, edgeRouterId=rid)]
        changes += [Delete(Kind.TERMINATORS, t["id"]) for t in model.where(Kind.TERMINATORS, router=rid)]
        return changes + _drop_router_identity(model, rid)


def _drop_router_identity(model: Model, rid: str) -> list[Change]:
    """Delete a router's own identity (only a Router-type one) and its system edge router policy."""
    changes: list[Change] = []
    identity = model.maybe(Kind.IDENTITIES, rid)
    if identity is not None and identity.get("typeId") == ROUTER_TYPE:
        changes.append(Delete(Kind.IDENTITIES, rid))
        changes += _identity_cleanup(model, rid)
    changes += [Delete(Kind.EDGE_ROUTER_POLICIES, p["id"])
                for p in model.where(Kind.EDGE_ROUTER_POLICIES, isSystem=True) if p["identityRoles"] == ["@" + rid]]
    return changes


def router_identity(model: Model, router: Entity) -> list[Change]:
    """A tunneler-enabled router's own identity and the system policy letting it use itself."""
    now = now_text()
    rid = router["id"]
    if model.by_name(Kind.IDENTITIES, router["name"]) is not None:
        raise ValidationError("an identity with the router's name already exists", field="name",
                              value=router["name"])
    identity = new_identity(rid, router["name"], typeId=ROUTER_TYPE)
    policy = {
        "id": new_id(), "name": f"edge-router-{rid}-system", "semantic": "AnyOf", "identityRoles": ["@" + rid],
        "edgeRouterRoles": ["@" + rid], "isSystem": True, "tags": {}, "createdAt": now, "updatedAt": now,
    }
    return [Put(Kind.IDENTITIES, identity), Put(Kind.EDGE_ROUTER_POLICIES, policy)]


class EnrollmentRules(NoHooks):
    """Management-created enrollments: fill token and JWT; one pending per identity and method."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        identity = model.maybe(Kind.IDENTITIES, data["identityId"])
        if identity is None:
            raise ValidationError("no such identity", field="identityId", value=data["identityId"])
        if data["method"] == "ottca":
            data["caId"] = _ottca(model, "caId", data.get("caId"))
        if data["method"] == "updb" and not data.get("username"):
            raise ValidationError("updb enrollments need a username", field="username", value=None)
        if old is None:
            for other in model.where(Kind.ENROLLMENTS, identityId=data["identityId"], method=data["method"]):
                raise ValidationError("the identity already has an enrollment of that method",
                                      field="method", value=other["method"])
            fresh = self.deps.issuer.new(data["method"], identity_id=data["identityId"],
                                         username=data.get("username"), ca_id=data.get("caId"),
                                         expires_at=parse_time(data["expiresAt"]))
            data.update({k: fresh[k] for k in ("token", "jwt", "edgeRouterId")})


class AuthenticatorRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        if model.maybe(Kind.IDENTITIES, data["identityId"]) is None:
            raise ValidationError("no such identity", field="identityId", value=data["identityId"])
        if data["method"] == "updb":
            if not data.get("username"):
                raise ValidationError("is required for updb", field="username", value=None)
            password = data.pop("password", None)
            if password:
                identity_password_check(model, data["identityId"], password)
                data["passwordHash"] = self.deps.hash_password(password)
            elif old is None or "passwordHash" not in old:
                raise ValidationError("is required for updb", field="password", value=None)
            else:
                data["passwordHash"] = old["passwordHash"]
            for other in model.where(Kind.AUTHENTICATORS, method="updb", username=data["username"]):
                if other["id"] != data["id"]:
                    raise ValidationError("the username is taken", field="username", value=data["username"])
        else:
            data.pop("password", None)
            certs = load_certs_pem((data.get("certPem") or "").encode())
            if not certs:
                raise ValidationError("is required for cert", field="certPem", value=None)
            data["fingerprint"] = fingerprint_sha1(certs[0])


class TerminatorRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        data["service"] = _resolve(model, Kind.SERVICES, "service", data["service"])
        data["router"] = _resolve(model, Kind.EDGE_ROUTERS, "router", data["router"])


class ApiSessionRules(NoHooks):
    """Deleting an API session is a logout: its sessions end and routers learn of both."""

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        return api_session_revocation(model, entity["id"])


class SessionRules(NoHooks):
    """Deleting a session revokes its token at the routers."""

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        return [revocation(entity["id"], "SESSION")]


def new_identity(ident: str, name: str, **fields: Any) -> Entity:
    """An identity the controller makes itself (the default admin, a router's own identity):
    the defaults of a created identity, then ``fields``."""
    now = now_text()
    return {
        "id": ident, "name": name, "typeId": "Default", "isAdmin": False, "isDefaultAdmin": False,
        "roleAttributes": [], "authPolicyId": DEFAULT_AUTH_POLICY_ID, "externalId": None,
        "defaultHostingPrecedence": "default", "defaultHostingCost": 0, "serviceHostingPrecedences": {},
        "serviceHostingCosts": {}, "appData": {}, "permissions": [], "disabled": False, "tags": {},
        **fields, "createdAt": now, "updatedAt": now,
    }


def new_authenticator(identity_id: str, **fields: Any) -> Entity:
    """An authenticator the controller makes itself (an enrollment completed, the default admin's login)."""
    now = now_text()
    return {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "identityId": identity_id, **fields}


# --- operations beyond create, update and delete --------------------------------------------

def router_re_enrollment(model: Model, issuer: EnrollmentIssuer, router_id: str) -> list[Change]:
    """A new ``erott`` enrollment for an edge router, replacing any pending one; the router's
    certificate is forgotten, so it cannot connect until it enrolls again."""
    router = model.get(Kind.EDGE_ROUTERS, router_id)
    changes: list[Change] = [Delete(Kind.ENROLLMENTS, e["id"])
                             for e in model.where(Kind.ENROLLMENTS, edgeRouterId=router_id)]
    changes.append(Put(Kind.ENROLLMENTS, issuer.new("erott", edge_router_id=router_id)))
    changes.append(Put(Kind.EDGE_ROUTERS, {**router, "isVerified": False, "fingerprint": None, "certPem": None,
                                           "updatedAt": now_text()}))
    return changes


def enrollment_refresh(model: Model, issuer: EnrollmentIssuer, enrollment_id: str, expires_at: datetime) -> Put:
    """The enrollment with a new token and JWT that expire at ``expires_at``."""
    return Put(Kind.ENROLLMENTS, issuer.renewed(model.get(Kind.ENROLLMENTS, enrollment_id), expires_at))
