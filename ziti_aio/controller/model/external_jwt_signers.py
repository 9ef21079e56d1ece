"""The ``external-jwt-signers`` kind: its fields, its rules and how it looks (docs/external-jwt.md).

A signer names an outside token issuer the controller trusts for ``ext-jwt`` logins and for
just-in-time enrollment: its ``issuer`` and ``audience``, where its keys come from (a JWKS
endpoint or one certificate, never both), which claim names the identity, and whether a token of
an unknown subject may enroll a new identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.x509.oid import NameOID

from ziti_aio.common.errors import ConflictError, ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model import fields as f
from ziti_aio.controller.model.fields import REQUIRED, Field, format_time
from ziti_aio.controller.model.hooks import NoHooks
from ziti_aio.pki.bundle import fingerprint_sha1, load_certs_pem

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.controller.model.views import ViewContext
    from ziti_aio.controller.store.commands import Change

TARGET_TOKENS = ("ACCESS", "ID")
DEFAULT_CLAIMS_PROPERTY = "sub"
DEFAULT_NAME_SELECTOR = "/sub"
# What a JWKS signer shows for the certificate dates it has none of (Go's zero time, as OpenZiti).
ZERO_TIME = "0001-01-01T00:00:00.000Z"


def url(field: str, value: Any) -> str | None:
    """An absolute http(s) URL with a host."""
    checked: str | None = f.string(max_length=4096)(field, value)
    if checked is None or checked == "":
        return None
    try:
        parts = urlsplit(checked)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ValidationError("must be an http or https URL", field=field, value=checked) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an http or https URL", field=field, value=checked)
    return checked


def json_pointer(field: str, value: Any) -> str | None:
    """A claim selector: a JSON pointer (RFC 6901), the leading ``/`` optional as in OpenZiti."""
    checked: str | None = f.string(max_length=1024)(field, value)
    if not checked:
        return checked
    pointer = checked if checked.startswith("/") else "/" + checked
    for token in pointer.split("/")[1:]:
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise ValidationError("is not a valid JSON pointer (a ~ must be followed by 0 or 1)", field=field,
                                  value=checked)
    return checked


FIELDS = (
    Field("name", f.name, REQUIRED),
    Field("issuer", f.string(max_length=4096, nonempty=True), REQUIRED),
    Field("audience", f.string(max_length=4096, nonempty=True), REQUIRED),
    Field("enabled", f.boolean, REQUIRED),
    Field("certPem", f.string(max_length=64 * 1024), None),
    Field("jwksEndpoint", url, None),
    Field("kid", f.string(max_length=1024), None),
    Field("claimsProperty", json_pointer, DEFAULT_CLAIMS_PROPERTY),
    Field("useExternalId", f.boolean, False),
    Field("externalAuthUrl", url, None),
    Field("clientId", f.string(max_length=1024), None),
    Field("scopes", f.string_list, []),
    Field("targetToken", f.enum(*TARGET_TOKENS), "ACCESS"),
    Field("enrollToCertEnabled", f.boolean, False),
    Field("enrollToTokenEnabled", f.boolean, False),
    Field("enrollNameClaimsSelector", json_pointer, DEFAULT_NAME_SELECTOR),
    Field("enrollAttributeClaimsSelector", json_pointer, ""),
    Field("enrollAuthPolicyId", f.string(max_length=64), ""),
    Field("tags", f.tags, {}),
)

SHOWN = ("name", "issuer", "audience", "enabled", "certPem", "jwksEndpoint", "kid", "fingerprint", "commonName",
         "notBefore", "notAfter", "claimsProperty", "useExternalId", "externalAuthUrl", "clientId", "scopes",
         "targetToken", "enrollToCertEnabled", "enrollToTokenEnabled", "enrollNameClaimsSelector",
         "enrollAttributeClaimsSelector", "enrollAuthPolicyId")


def policy_allows(policy: Entity | None, method: str, signer_id: str | None = None) -> bool:
    """Whether an auth policy's primary section allows ``method`` (``cert``, ``updb``, ``extJwt``), and for
    ``extJwt`` the signer (an empty ``allowedSigners`` allows them all)."""
    if policy is None:
        return False
    section = (policy.get("primary") or {}).get(method) or {}
    if not section.get("allowed"):
        return False
    allowed = section.get("allowedSigners") or []
    return method != "extJwt" or signer_id is None or not allowed or signer_id in allowed


class ExternalJwtSignerRules(NoHooks):
    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        if not data.get("certPem") and not data.get("jwksEndpoint"):
            raise ValidationError("jwksEndpoint or certPem is required", field="certPem", value=None)
        if data.get("certPem") and data.get("jwksEndpoint"):
            raise ValidationError("only one of jwksEndpoint or certPem may be defined", field="jwksEndpoint",
                                  value=data["jwksEndpoint"])
        for other in model.where(Kind.EXTERNAL_JWT_SIGNERS, issuer=data["issuer"]):
            if other["id"] != data["id"]:
                raise ValidationError(f"issuer must be unique: signer {other['name']!r} has it", field="issuer",
                                      value=data["issuer"])
        data.update(fingerprint=None, commonName=None, notBefore=None, notAfter=None)
        if data.get("certPem"):
            try:
                certs = load_certs_pem(data["certPem"].encode())
            except ValidationError:
                certs = []
            if not certs:
                raise ValidationError("is not a PEM certificate", field="certPem", value=None)
            cert = certs[0]
            names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            data.update(fingerprint=fingerprint_sha1(cert), commonName=str(names[0].value) if names else "",
                        notBefore=format_time(cert.not_valid_before_utc),
                        notAfter=format_time(cert.not_valid_after_utc))
            if not data.get("kid"):
                data["kid"] = data["fingerprint"]
        self._check_enrollment(model, data)

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        """An auth policy that names the signer keeps it (OpenZiti refuses the delete too)."""
        users = [p for p in model.all(Kind.AUTH_POLICIES)
                 if entity["id"] in (((p.get("primary") or {}).get("extJwt") or {}).get("allowedSigners") or [])]
        if users:
            names = ", ".join(sorted(str(p.get("name", p["id"])) for p in users)[:5])
            raise ConflictError(f"the external jwt signer is referenced by auth policies: {names}")
        return []

    @staticmethod
    def _check_enrollment(model: Model, data: Entity) -> None:
        policy_id = data.get("enrollAuthPolicyId") or ""
        policy = model.maybe(Kind.AUTH_POLICIES, policy_id) if policy_id else None
        if policy_id and policy is None:
            raise ValidationError("the auth policy could not be found", field="enrollAuthPolicyId", value=policy_id)
        for flag, method, what in (("enrollToTokenEnabled", "extJwt", "primary external jwt"),
                                   ("enrollToCertEnabled", "cert", "primary certificate")):
            if not data.get(flag):
                continue
            if policy is None:
                raise ValidationError(f"the auth policy must be specified if {flag} is set",
                                      field="enrollAuthPolicyId", value=policy_id)
            if not policy_allows(policy, method):
                raise ValidationError(f"{what} authentication on the auth policy is disabled",
                                      field="enrollAuthPolicyId", value=policy_id)


def signer_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    """Strings where OpenZiti's detail requires them, for a JWKS signer too."""
    return {k: e.get(k) or "" for k in ("fingerprint", "commonName", "kid", "externalAuthUrl", "clientId")} | {
        "notBefore": e.get("notBefore") or ZERO_TIME, "notAfter": e.get("notAfter") or ZERO_TIME,
        "claimsProperty": e.get("claimsProperty") or DEFAULT_CLAIMS_PROPERTY,
    }


def client_detail(e: Entity) -> dict[str, Any]:
    """A signer as the client API lists it for a login page."""
    issuer = e["issuer"].rstrip("/")
    out = {"id": e["id"], "createdAt": e["createdAt"], "updatedAt": e["updatedAt"], "tags": e.get("tags") or {},
           "_links": {"self": {"href": f"./external-jwt-signers/{e['id']}"}}}
    out.update(name=e["name"], externalAuthUrl=e.get("externalAuthUrl") or "", clientId=e.get("clientId"),
               audience=e.get("audience"), scopes=e.get("scopes") or [], targetToken=e.get("targetToken") or "ACCESS",
               enrollToCertEnabled=bool(e.get("enrollToCertEnabled")),
               enrollToTokenEnabled=bool(e.get("enrollToTokenEnabled")),
               openIdConfigurationUrl=f"{issuer}/.well-known/openid-configuration")
    return out
