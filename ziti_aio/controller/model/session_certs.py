"""Session-bound certificates, the one definition behind both ways of asking for one: the client API's
``/current-api-session/certificates`` (docs/edge-api.md "Session certificates") and a CSR during OIDC
authentication — login, refresh or token exchange (docs/oidc.md §6a).

An API session may get client certificates for fresh keys of its SDK (libziti 1.x asks for one when its
identity has no certificate of its own). Each is stored as an ``api-session-certificates`` entity, is
valid for the lifetime its path gives, and names the API session in a SPIFFE id,
``spiffe://<trust domain>/identity/<identity id>/api-session/<api session id>``, which is how a router
accepts it for that API session's tokens only (router/edge/auth.py). It ends with its API session, or
when deleted: a ``SESSION_CERT`` revocation of its fingerprint tells the routers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import format_time, now_text
from ziti_aio.controller.store.commands import Change, Delete, Put
from ziti_aio.pki.bundle import fingerprint_sha1
from ziti_aio.pki.csr import load_csr
from ziti_aio.pki.names import session_spiffe_path

if TYPE_CHECKING:
    from cryptography import x509

    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.pki.ca import CertAuthority

# Certificates one API session may hold at once (libziti keeps one and renews it at 2/3 of its life).
MAX_PER_API_SESSION = 10


def _check_subject(csr: x509.CertificateSigningRequest, identity: Entity) -> None:
    """The CSR's common name must be the caller's: its id, its name, or ``<id>-<suffix>`` (libziti's form)."""
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = names[0].value if names else ""
    if not (cn in (identity["id"], identity["name"]) or (isinstance(cn, str) and cn.startswith(identity["id"] + "-"))):
        raise ValidationError("the CSR's common name must be the identity's id or name", field="csr", value=cn)


def session_certificate(model: Model, ca: CertAuthority, trust_domain: str, identity: Entity,
                        api_session: Entity, csr_pem: object, lifetime: timedelta, *, field: str = "csr",
                        any_subject: bool = False, pending: int = 0) -> tuple[Put, Entity, str]:
    """Sign a CSR for the caller's API session; returns the change, the stored entity and the CA chain.
    ``any_subject``: the CSR's common name is not checked (an OIDC login's CSR is made before its SDK knows
    the identity's id, e.g. by just-in-time enrollment); ``pending``: certificates of this API session
    signed but not stored yet."""
    if not isinstance(csr_pem, str):
        raise ValidationError("is required (a PEM CSR)", field=field)
    held = len(model.where(Kind.API_SESSION_CERTIFICATES, apiSessionId=api_session["id"])) + pending
    if held >= MAX_PER_API_SESSION:
        raise ValidationError(f"an API session holds at most {MAX_PER_API_SESSION} certificates", field=field)
    csr = load_csr(csr_pem)
    if not any_subject:
        _check_subject(csr, identity)
    cert = ca.sign_csr(csr, lifetime=lifetime,
                       spiffe_id=f"spiffe://{trust_domain}/{session_spiffe_path(identity['id'], api_session['id'])}")
    now = now_text()
    entity = {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "apiSessionId": api_session["id"],
              "identityId": identity["id"], "fingerprint": fingerprint_sha1(cert),
              "subject": cert.subject.rfc4514_string(), "validFrom": format_time(cert.not_valid_before_utc),
              "validTo": format_time(cert.not_valid_after_utc),
              "certificate": cert.public_bytes(Encoding.PEM).decode()}
    chain = b"".join(c.public_bytes(Encoding.PEM) for c in ca.certs).decode()
    return Put(Kind.API_SESSION_CERTIFICATES, entity), entity, chain


def session_certificate_end(cert: Entity) -> list[Change]:
    """Delete a session certificate; routers learn its fingerprint is revoked."""
    now = datetime.now(UTC)
    return [Delete(Kind.API_SESSION_CERTIFICATES, cert["id"]),
            Put(Kind.REVOCATIONS, {"id": cert["fingerprint"], "type": "SESSION_CERT", "createdAt": format_time(now),
                                   "updatedAt": format_time(now), "expiresAt": cert["validTo"]})]


def fingerprints_of(model: Model, api_session: Entity) -> list[str]:
    """The SHA-1 fingerprints of an API session's live session certificates."""
    return [c["fingerprint"] for c in model.owned_by(Kind.API_SESSION_CERTIFICATES, api_session["identityId"])
            if c["apiSessionId"] == api_session["id"]]


def api_session_certificates_end(model: Model, api_session_id: str) -> list[Change]:
    """An ended API session's certificates are forgotten (its revocation already stops them at routers)."""
    return [Delete(Kind.API_SESSION_CERTIFICATES, c["id"])
            for c in model.where(Kind.API_SESSION_CERTIFICATES, apiSessionId=api_session_id)]
