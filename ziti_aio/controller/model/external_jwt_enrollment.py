"""Just-in-time enrollment: a valid external JWT of an unknown subject creates its identity
(``POST /enroll/token``, docs/external-jwt.md).

The identity gets its name and role attributes from the claims the signer names, its auth policy
from the signer, and the subject as its ``externalId``; with a CSR it also gets a certificate
(enroll to cert), without one it logs in with tokens only (enroll to token). Everything is
checked before the one command that creates it, so a refused token creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import (
    AlreadyEnrolled,
    CouldNotProcessCsr,
    EnrollmentNotAllowed,
    ExtJwtRefused,
    InvalidEnrollmentToken,
    ValidationError,
)
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model import fields as f
from ziti_aio.controller.model.auth_policies import DEFAULT_AUTH_POLICY_ID
from ziti_aio.controller.model.external_jwt import resolve_claim
from ziti_aio.controller.model.external_jwt_signers import DEFAULT_NAME_SELECTOR, policy_allows
from ziti_aio.controller.model.rules import new_authenticator, new_identity
from ziti_aio.controller.store.commands import Change, Command, Put
from ziti_aio.pki.bundle import certs_to_pem, fingerprint_sha1
from ziti_aio.pki.csr import load_csr

if TYPE_CHECKING:
    from cryptography import x509

    from ziti_aio.controller.model.external_jwt import ExtJwtVerifier, Verified
    from ziti_aio.controller.model.model import Model
    from ziti_aio.pki.ca import CertAuthority


def _attributes(verified: Verified) -> list[str]:
    selector = verified.signer.get("enrollAttributeClaimsSelector") or ""
    value = resolve_claim(verified.claims, selector) if selector else None
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidEnrollmentToken(f"the token's {selector!r} claim (role attributes) is not a string or a "
                                     "list of strings")
    return list(f.attributes("roleAttributes", [v for v in values if v]))


@dataclass
class JitEnrollment:
    """Creates identities from external JWTs."""

    model: Model
    verifier: ExtJwtVerifier
    signer_ca: CertAuthority
    trust_domain: str
    ca_bundle: list[x509.Certificate]

    async def enroll(self, token: str | None, csr_pem: str | None, *, signer_id: str | None = None) -> dict[str, Any]:
        """Create the token's identity; answers ``enrollmentCerts`` (``cert`` and ``ca`` with a CSR, else empty)."""
        try:
            verified = await self.verifier.verify(token, signer_id=signer_id)
        except ExtJwtRefused as exc:
            raise InvalidEnrollmentToken(f"The supplied token is not valid: {exc.message}") from None
        signer = verified.signer
        selector = signer.get("enrollNameClaimsSelector") or DEFAULT_NAME_SELECTOR
        name = resolve_claim(verified.claims, selector)
        if not isinstance(name, str) or not name.strip():
            raise InvalidEnrollmentToken(f"the token's {selector!r} claim (the identity's name) is not a string")
        to_cert = bool(csr_pem)
        if not signer.get("enrollToCertEnabled" if to_cert else "enrollToTokenEnabled"):
            raise EnrollmentNotAllowed(f"signer {signer['name']!r} does not allow enrollment to a "
                                       f"{'certificate' if to_cert else 'token'}")
        policy_id = signer.get("enrollAuthPolicyId") or DEFAULT_AUTH_POLICY_ID
        policy = self.model.maybe(Kind.AUTH_POLICIES, policy_id)
        if not policy_allows(policy, "cert" if to_cert else "extJwt", None if to_cert else signer["id"]):
            raise EnrollmentNotAllowed(f"auth policy {policy_id!r} does not allow "
                                       f"{'certificate' if to_cert else 'ext-jwt from this signer'} logins")
        attributes = _attributes(verified)
        csr = None
        if csr_pem:
            try:
                csr = load_csr(csr_pem)
            except ValidationError as exc:
                raise CouldNotProcessCsr(f"The supplied csr could not be processed: {exc.message}") from None
        result: dict[str, Any] = {}

        def build() -> Command:
            if self.model.lookup(Kind.IDENTITIES, "externalId", verified.subject) is not None:
                raise AlreadyEnrolled()
            if self.model.by_name(Kind.IDENTITIES, name) is not None:
                raise ValidationError(f"name must be unique: identity {name!r} already exists (taken from the "
                                      f"token's {selector!r} claim)", field="name", value=name)
            identity = new_identity(new_id(), f.name("name", name), roleAttributes=attributes,
                                    authPolicyId=policy_id, externalId=verified.subject)
            changes: list[Change] = [Put(Kind.IDENTITIES, identity)]
            if csr is not None:
                cert = self.signer_ca.sign_csr(csr, spiffe_id=f"spiffe://{self.trust_domain}/identity/{identity['id']}")
                chain = self.signer_ca.chain_pem(cert).decode()
                changes.append(Put(Kind.AUTHENTICATORS, new_authenticator(
                    identity["id"], method="cert", fingerprint=fingerprint_sha1(cert),
                    certPem=certs_to_pem([cert]).decode(), isIssuedByNetwork=True)))
                result.update(cert=chain, ca=certs_to_pem(self.ca_bundle).decode())
            return Command(identity["id"], f"just-in-time enrollment by signer {signer['name']}", tuple(changes))

        await self.model.transact(build)
        return result
