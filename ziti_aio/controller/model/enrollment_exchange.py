"""Completing enrollments: a one-time token exchanged for a certificate or a password login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ziti_aio.common.errors import AuthError, EnrollmentExpired, InvalidEnrollmentToken, ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.auth_policies import identity_password_check
from ziti_aio.controller.model.cas import issued_by, trusted_ca
from ziti_aio.controller.model.fields import now_text, parse_time
from ziti_aio.controller.model.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from ziti_aio.controller.model.rules import new_authenticator
from ziti_aio.controller.store.commands import Command, Delete, Put
from ziti_aio.pki.bundle import certs_to_pem, fingerprint_sha1
from ziti_aio.pki.csr import load_csr

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.pki.ca import CertAuthority


def _pem(cert: x509.Certificate) -> str:
    return certs_to_pem([cert]).decode()


@dataclass
class EnrollmentExchange:
    """Turns valid enrollment tokens into authenticators (identities) or certs (routers)."""

    model: Model
    signer_ca: CertAuthority
    trust_domain: str
    ca_bundle: list[x509.Certificate]

    def _pending(self, token: Any, method: str) -> Entity:
        enrollment = self.model.lookup(Kind.ENROLLMENTS, "token", token) if isinstance(token, str) else None
        if enrollment is None or enrollment["method"] != method:
            raise InvalidEnrollmentToken()
        if parse_time(enrollment["expiresAt"]) < datetime.now(UTC):
            raise EnrollmentExpired()
        return enrollment

    async def enroll_ott(self, token: Any, csr_data: bytes | str) -> str:
        """Sign the CSR for the token's identity; returns the client chain PEM."""
        result: dict[str, str] = {}

        def build() -> Command:
            enrollment = self._pending(token, "ott")
            identity_id = enrollment["identityId"]
            cert = self.signer_ca.sign_csr(load_csr(csr_data),
                                           spiffe_id=f"spiffe://{self.trust_domain}/identity/{identity_id}")
            chain = self.signer_ca.chain_pem(cert).decode()
            auth = new_authenticator(identity_id, method="cert", fingerprint=fingerprint_sha1(cert),
                                       certPem=_pem(cert))
            result["chain"] = chain
            return Command(identity_id, "ott enrollment", (Delete(Kind.ENROLLMENTS, enrollment["id"]),
                                                          Put(Kind.AUTHENTICATORS, auth)))

        await self.model.transact(build)
        return result["chain"]

    async def enroll_ottca(self, token: Any, peer_der: bytes | None) -> None:
        """Bind the TLS client cert, issued by the enrollment's CA, as the identity's cert authenticator."""
        if not peer_der:
            raise ValidationError("ottca enrollment needs a TLS client certificate", field="certificate")
        cert = x509.load_der_x509_certificate(peer_der)

        def build() -> Command:
            enrollment = self._pending(token, "ottca")
            ca = trusted_ca(self.model, enrollment["caId"], "isOttCaEnrollmentEnabled")
            if ca is None or not issued_by(cert, ca):
                raise ValidationError("the client certificate is not issued by the enrollment's CA",
                                      field="certificate")
            fingerprint = fingerprint_sha1(cert)
            if self.model.lookup(Kind.AUTHENTICATORS, "fingerprint", fingerprint) is not None:
                raise ValidationError("the client certificate is already in use", field="certificate")
            auth = new_authenticator(enrollment["identityId"], method="cert", fingerprint=fingerprint,
                                       certPem=_pem(cert), caId=ca["id"])
            return Command(enrollment["identityId"], "ottca enrollment",
                           (Delete(Kind.ENROLLMENTS, enrollment["id"]), Put(Kind.AUTHENTICATORS, auth)))

        await self.model.transact(build)

    async def enroll_updb(self, token: Any, body: Any) -> None:
        """Set the password of the token's updb enrollment."""
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise ValidationError(f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
                                  field="password")
        enrollment = self._pending(token, "updb")
        identity_password_check(self.model, enrollment["identityId"], password)
        digest = hash_password(password)

        def build() -> Command:
            current = self._pending(token, "updb")
            if self.model.lookup(Kind.AUTHENTICATORS, "username", current["username"]) is not None:
                raise ValidationError("the username is taken", field="username", value=current["username"])
            auth = new_authenticator(current["identityId"], method="updb", username=current["username"],
                                       passwordHash=digest)
            return Command(current["identityId"], "updb enrollment",
                           (Delete(Kind.ENROLLMENTS, current["id"]), Put(Kind.AUTHENTICATORS, auth)))

        del enrollment
        await self.model.transact(build)

    async def enroll_router(self, token: Any, body: Any) -> dict[str, str]:
        """Sign a router's client and server CSRs (``erott``); returns cert, serverCert, ca."""
        client_csr, server_csr = _router_csrs(body)
        result: dict[str, str] = {}

        def build() -> Command:
            enrollment = self._pending(token, "erott")
            router = self.model.get(Kind.EDGE_ROUTERS, enrollment["edgeRouterId"])
            change = self._router_certs(router, client_csr, server_csr, result)
            return Command(router["id"], "router enrollment", (Delete(Kind.ENROLLMENTS, enrollment["id"]), change))

        await self.model.transact(build)
        return result

    async def extend_router(self, peer_der: bytes | None, body: Any) -> dict[str, str]:
        """``POST /enroll/extend/router``: an enrolled router, known by the client certificate it presents,
        gets new client and server certificates from CSRs; returns cert, serverCert, ca."""
        client_csr, server_csr = _router_csrs(body)
        result: dict[str, str] = {}

        def build() -> Command:
            fingerprint = fingerprint_sha1(x509.load_der_x509_certificate(peer_der)) if peer_der else None
            router = next((r for r in self.model.all(Kind.EDGE_ROUTERS)
                           if fingerprint and r.get("fingerprint") == fingerprint), None)
            if router is None:
                raise AuthError("no enrolled router presented this client certificate")
            return Command(router["id"], "router certificate extension",
                           (self._router_certs(router, client_csr, server_csr, result),))

        await self.model.transact(build)
        return result

    def _router_certs(self, router: Entity, client_csr: str, server_csr: str, result: dict[str, str]) -> Put:
        """Sign a router's two CSRs into ``result``; the change records the new client certificate."""
        spiffe = f"spiffe://{self.trust_domain}/router/{router['id']}"
        client = self.signer_ca.sign_csr(load_csr(client_csr), spiffe_id=spiffe)
        server_request = load_csr(server_csr)
        dns, ips = _sans(server_request)
        server = self.signer_ca.sign_csr(server_request, server=True, spiffe_id=spiffe, dns=dns, ips=ips)
        result.update(cert=self.signer_ca.chain_pem(client).decode(),
                      serverCert=self.signer_ca.chain_pem(server).decode(),
                      ca=certs_to_pem(self.ca_bundle).decode())
        return Put(Kind.EDGE_ROUTERS, {**router, "fingerprint": fingerprint_sha1(client), "certPem": _pem(client),
                                       "isVerified": True, "updatedAt": now_text()})


def _router_csrs(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    client_csr = body.get("certCsr") or body.get("clientCsr")
    server_csr = body.get("serverCertCsr") or body.get("serverCsr")
    if not isinstance(client_csr, str) or not isinstance(server_csr, str):
        raise ValidationError("certCsr and serverCertCsr are required", field="certCsr")
    return client_csr, server_csr

def _sans(csr: x509.CertificateSigningRequest) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The DNS names and IPs a router asked for in its server CSR."""
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), ()
    return (tuple(ext.get_values_for_type(x509.DNSName)),
            tuple(str(ip) for ip in ext.get_values_for_type(x509.IPAddress)))
