"""Certificate authorities: a self-signed root, intermediates, and the server and client certificates they issue."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki.keys import PrivateKey, PublicKey, check_key_type, generate_key, signature_hash
from ziti_aio.pki.names import (
    SPIFFE_SCHEME,
    IpLike,
    resolve_spiffe_id,
    san_entries,
    spiffe_uris,
    subject,
    trust_domain_uri,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

BACKDATE = timedelta(minutes=1)  # tolerate clocks that are a little behind ours
MAX_DAYS = 36500
SERIAL_BITS = 128
DEFAULT_ORG = "ziti-aio"


def _key_usage(*, sign_certs: bool = False, data_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=False,
        key_encipherment=not sign_certs,
        data_encipherment=data_encipherment,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def _check_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_DAYS:
        raise ValidationError(f"validity must be 1-{MAX_DAYS} days", field="days", value=days)
    return days


def _check_path_len(max_path_len: int | None) -> int | None:
    if max_path_len is not None and (isinstance(max_path_len, bool) or max_path_len < 0):
        raise ValidationError(
            "max path length must be >= 0, or None for no limit", field="maxPathLen", value=max_path_len
        )
    return max_path_len


def _utc(now: datetime | None) -> datetime:
    """``now`` (a naive value is taken as UTC), or the current time."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _serial() -> int:
    return secrets.randbits(SERIAL_BITS) | 1


def _template(
    name: x509.Name, issuer: x509.Name, public_key: PublicKey, start: datetime, end: datetime
) -> x509.CertificateBuilder:
    """A certificate builder with the fields and extensions every certificate carries."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


@dataclass(frozen=True)
class CertAuthority:
    """A CA certificate, its key, and the issuers above it (nearest first, ``cert`` itself excluded)."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def create_root(
        cls,
        name: str,
        *,
        key_kind: str = "ec256",
        days: int = 3650,
        trust_domain: str | None = None,
        org: str = DEFAULT_ORG,
        max_path_len: int | None = None,
        now: datetime | None = None,
    ) -> CertAuthority:
        """A new self-signed root CA named ``CN=name, O=org``; ``trust_domain`` adds the URI SAN ``spiffe://<td>``."""
        now = _utc(now)
        key = generate_key(key_kind)
        name_ = subject(name, org)
        builder = _template(name_, name_, key.public_key(), now, now + timedelta(days=_check_days(days)))
        constraints = x509.BasicConstraints(ca=True, path_length=_check_path_len(max_path_len))
        builder = builder.add_extension(constraints, critical=True)
        builder = builder.add_extension(_key_usage(sign_certs=True), critical=True)
        if trust_domain is not None:
            uri = x509.UniformResourceIdentifier(trust_domain_uri(trust_domain))
            builder = builder.add_extension(x509.SubjectAlternativeName([uri]), critical=False)
        return cls(builder.sign(key, signature_hash(key)), key)

    @property
    def certs(self) -> tuple[x509.Certificate, ...]:
        """This CA's certificate followed by its chain: the trust bundle for what it issues."""
        return (self.cert, *self.chain)

    @property
    def trust_domain(self) -> str | None:
        """The SPIFFE trust domain of this CA or of the first issuer above it that has one."""
        for cert in self.certs:
            for uri in spiffe_uris(cert):
                return uri[len(SPIFFE_SCHEME) :].partition("/")[0]
        return None

    @property
    def _org(self) -> str | None:
        orgs = self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(orgs[0].value) if orgs else None

    def _leaf_builder(
        self, name: x509.Name, public_key: PublicKey, days: int, now: datetime | None,
        lifetime: timedelta | None = None,
    ) -> x509.CertificateBuilder:
        """Builder for a certificate issued by this CA for ``days`` (or ``lifetime``), its end capped at this
        CA's own expiry."""
        now = _utc(now)
        end = min(now + (lifetime or timedelta(days=_check_days(days))), self.cert.not_valid_after_utc)
        try:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        builder = _template(name, self.cert.subject, public_key, now, end)
        return builder.add_extension(aki, critical=False)

    def _sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        return builder.sign(self.key, signature_hash(self.key))

    def create_intermediate(
        self,
        name: str,
        *,
        key_kind: str = "ec256",
        days: int = 3650,
        max_path_len: int | None = 0,
        now: datetime | None = None,
    ) -> CertAuthority:
        """A new intermediate CA signed by this one; it inherits this CA's organization and trust domain."""
        max_path_len = _check_path_len(max_path_len)
        try:
            limit = self.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
        except x509.ExtensionNotFound as exc:
            raise ValidationError("this certificate is not a CA") from exc
        if limit is not None and (max_path_len is None or max_path_len >= limit):
            raise ValidationError(
                f"this CA allows {limit} CA level(s) below it; max path length must be below that",
                field="maxPathLen",
                value=max_path_len,
            )
        key = generate_key(key_kind)
        builder = self._leaf_builder(subject(name, self._org), key.public_key(), days, now)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=max_path_len), critical=True)
        builder = builder.add_extension(_key_usage(sign_certs=True), critical=True)
        if self.trust_domain is not None:
            uri = x509.UniformResourceIdentifier(SPIFFE_SCHEME + self.trust_domain)
            builder = builder.add_extension(x509.SubjectAlternativeName([uri]), critical=False)
        return CertAuthority(self._sign(builder), key, self.certs)

    def _end_entity(
        self,
        name: x509.Name,
        public_key: PublicKey,
        *,
        server: bool,
        days: int,
        now: datetime | None,
        spiffe_id: str | None,
        dns: Iterable[str],
        ips: Iterable[IpLike],
        data_encipherment: bool = False,
        lifetime: timedelta | None = None,
    ) -> x509.Certificate:
        check_key_type(public_key)
        uris = [resolve_spiffe_id(spiffe_id, self.trust_domain)] if spiffe_id is not None else []
        sans = san_entries(dns, ips, uris)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        builder = self._leaf_builder(name, public_key, days, now, lifetime)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_key_usage(data_encipherment=data_encipherment), critical=True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([*usages, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return self._sign(builder)

    def issue_server(
        self,
        common_name: str,
        *,
        dns: Iterable[str] = (),
        ips: Iterable[IpLike] = (),
        key: PrivateKey | None = None,
        key_kind: str = "rsa2048",
        days: int = 365,
        spiffe_id: str | None = None,
        now: datetime | None = None,
    ) -> tuple[x509.Certificate, PrivateKey]:
        """A TLS server certificate (EKU serverAuth and clientAuth) and its key.

        DNS SANs name every entry of ``dns`` and every IP literal; IP SANs every address. RSA by default,
        because the controller's server key signs the RS256 enrollment JWTs libziti 0.29.3 insists on.
        A relative ``spiffe_id`` is joined to this CA's trust domain.
        """
        key = key or generate_key(key_kind)
        cert = self._end_entity(
            subject(common_name, self._org),
            key.public_key(),
            server=True,
            days=days,
            now=now,
            spiffe_id=spiffe_id,
            dns=dns,
            ips=ips,
        )
        return cert, key

    def issue_client(
        self,
        common_name: str,
        *,
        key: PrivateKey | None = None,
        key_kind: str = "ec256",
        days: int = 365,
        spiffe_id: str | None = None,
        now: datetime | None = None,
    ) -> tuple[x509.Certificate, PrivateKey]:
        """A TLS client certificate (EKU clientAuth, KeyUsage digitalSignature|keyEncipherment) and its key."""
        key = key or generate_key(key_kind)
        cert = self._end_entity(
            subject(common_name, self._org),
            key.public_key(),
            server=False,
            days=days,
            now=now,
            spiffe_id=spiffe_id,
            dns=(),
            ips=(),
        )
        return cert, key

    def sign_csr(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        server: bool = False,
        days: int = 365,
        spiffe_id: str | None = None,
        dns: Iterable[str] = (),
        ips: Iterable[IpLike] = (),
        now: datetime | None = None,
        lifetime: timedelta | None = None,
    ) -> x509.Certificate:
        """Sign an enrollment CSR as OpenZiti does: the CSR's subject, KeyUsage digitalSignature|keyEncipherment|
        dataEncipherment, EKU clientAuth (plus serverAuth when ``server``).

        SANs come only from ``dns``/``ips``/``spiffe_id``; extensions requested in the CSR are ignored
        (see :func:`ziti_aio.pki.csr.requested_sans`). Raises :class:`ValidationError` for a bad signature or key.
        """
        try:
            valid = csr.is_signature_valid
            public_key = csr.public_key()
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"unusable CSR: {exc}", field="csr") from exc
        if not valid:
            raise ValidationError("the CSR signature does not verify", field="csr")
        return self._end_entity(
            csr.subject,
            public_key,  # type: ignore[arg-type]
            server=server,
            days=days,
            now=now,
            spiffe_id=spiffe_id,
            dns=dns,
            ips=ips,
            data_encipherment=True,
            lifetime=lifetime,
        )

    def chain_pem(self, cert: x509.Certificate) -> bytes:
        """``cert`` followed by this CA and its chain, as concatenated PEM (the enrollment response's ``cert``)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, *self.certs))


create_root = CertAuthority.create_root
