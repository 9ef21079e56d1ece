"""What happens to an authenticator beyond create, update and delete (docs/edge-api.md, "Authenticators").

- re-enroll: the authenticator is replaced by a fresh enrollment of the same method (``cert`` -> ``ott``,
  or ``ottca`` for a certificate of a third-party CA; ``updb`` -> ``updb`` with the same username);
- request-extend: an administrator asks the identity's SDK to extend its certificate (and to make a new key);
- extend / extend-verify: the identity sends a CSR, gets a new certificate, and proves it holds it
  before the old one stops working.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.errors import NotFoundError, ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.store.commands import Change, Delete, Put
from ziti_aio.pki.bundle import fingerprint_sha1, load_certs_pem
from ziti_aio.pki.csr import load_csr

if TYPE_CHECKING:
    from ziti_aio.controller.model.enrollment_issuer import EnrollmentIssuer
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.pki.ca import CertAuthority

# Fields of a pending extension, cleared when it is verified.
UNVERIFIED = ("unverifiedCertPem", "unverifiedFingerprint")


def re_enrollment(model: Model, issuer: EnrollmentIssuer, auth_id: str,
                  expires_at: datetime) -> tuple[list[Change], str]:
    """Delete an authenticator and make a new enrollment of its method; returns the changes and the
    enrollment's id. A pending enrollment of that method for the identity is replaced."""
    if expires_at <= datetime.now(UTC):
        raise ValidationError("must be in the future", field="expiresAt", value=expires_at.isoformat())
    auth = model.get(Kind.AUTHENTICATORS, auth_id)
    method = "updb" if auth["method"] == "updb" else ("ottca" if auth.get("caId") else "ott")
    enrollment = issuer.new(method, identity_id=auth["identityId"], username=auth.get("username"),
                            ca_id=auth.get("caId"), expires_at=expires_at)
    changes: list[Change] = [Delete(Kind.ENROLLMENTS, e["id"])
                             for e in model.where(Kind.ENROLLMENTS, identityId=auth["identityId"], method=method)]
    changes += [Delete(Kind.AUTHENTICATORS, auth_id), Put(Kind.ENROLLMENTS, enrollment)]
    return changes, enrollment["id"]


def network_cert_authenticator(model: Model, auth_id: str, identity_id: str | None = None) -> Entity:
    """A certificate authenticator the network issued (only those can be extended); with ``identity_id``,
    only one of that identity's (another's is not there)."""
    auth = model.maybe(Kind.AUTHENTICATORS, auth_id)
    if auth is None or (identity_id is not None and auth["identityId"] != identity_id):
        raise NotFoundError("authenticator", auth_id)
    if auth["method"] != "cert" or auth.get("caId"):
        raise ValidationError("only certificate authenticators issued by the network can be extended",
                              field="id", value=auth_id)
    return auth


def extend_request(model: Model, auth_id: str, roll_keys: bool) -> Put:
    """Mark a certificate authenticator for extension (and a new key when ``roll_keys``)."""
    auth = network_cert_authenticator(model, auth_id)
    return Put(Kind.AUTHENTICATORS, {**auth, "updatedAt": now_text(), "isExtendRequested": True,
                                     "isKeyRollRequested": roll_keys})


def extension(model: Model, ca: CertAuthority, trust_domain: str, auth: Entity, csr_pem: str) -> tuple[Put, str]:
    """A new certificate for ``auth``'s identity from a CSR, kept unverified beside the current one;
    returns the change and the new certificate's chain."""
    csr = load_csr(csr_pem)
    cert = ca.sign_csr(csr, spiffe_id=f"spiffe://{trust_domain}/identity/{auth['identityId']}")
    pem = cert.public_bytes(Encoding.PEM).decode()
    return (Put(Kind.AUTHENTICATORS, {**auth, "updatedAt": now_text(), "unverifiedCertPem": pem,
                                      "unverifiedFingerprint": fingerprint_sha1(cert)}),
            ca.chain_pem(cert).decode())


def extension_verified(auth: Entity, cert_pem: object) -> Put:
    """The pending extension becomes the authenticator's certificate once its holder shows it back."""
    if not isinstance(cert_pem, str):
        raise ValidationError("must be a PEM certificate", field="clientCert")
    certs = load_certs_pem(cert_pem)
    if not auth.get("unverifiedFingerprint") or fingerprint_sha1(certs[0]) != auth["unverifiedFingerprint"]:
        raise ValidationError("is not the certificate the last extension issued", field="clientCert")
    pem = certs[0].public_bytes(Encoding.PEM).decode()
    kept = {k: v for k, v in auth.items() if k not in UNVERIFIED}
    return Put(Kind.AUTHENTICATORS, {**kept, "updatedAt": now_text(), "certPem": pem,
                                     "fingerprint": auth["unverifiedFingerprint"], "isExtendRequested": False,
                                     "isKeyRollRequested": False})

