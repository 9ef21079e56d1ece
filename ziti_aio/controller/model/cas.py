"""Third-party CAs: proof of possession (verification) and their use for enrollment and login."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.ids import new_token
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.hooks import NoHooks
from ziti_aio.controller.store.commands import Change, Command, Delete, Put
from ziti_aio.pki.bundle import fingerprint_sha1, load_certs_pem

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

DEFAULT_IDENTITY_NAME_FORMAT = "[caName]-[commonName]"
CONTROLLER_SET = ("fingerprint", "isVerified", "verificationToken")


def ca_cert(ca: Entity) -> x509.Certificate:
    """The certificate of a stored CA."""
    return load_certs_pem(ca["certPem"])[0]


def issued_by(cert: x509.Certificate, ca: Entity) -> bool:
    """Is ``cert`` signed directly by the CA's key (and named by it as issuer)?"""
    try:
        cert.verify_directly_issued_by(ca_cert(ca))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def trusted_ca(model: Model, ca_id: str | None, flag: str) -> Entity | None:
    """The CA ``ca_id`` if it exists, is verified and has ``flag`` (e.g. ``isAuthEnabled``) set."""
    ca = model.maybe(Kind.CAS, ca_id)
    return ca if ca is not None and ca.get("isVerified") and ca.get(flag) else None


class CaRules(NoHooks):
    """The certificate is fixed at creation and its fingerprint unique; updates keep the verification state."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        if old is not None:
            data["certPem"] = old["certPem"]
            data.update({k: old[k] for k in CONTROLLER_SET})
            return
        certs = load_certs_pem(data["certPem"])
        if len(certs) != 1:
            raise ValidationError("must hold exactly one certificate", field="certPem", value=None)
        if not _is_ca(certs[0]):
            raise ValidationError("is not a CA certificate", field="certPem", value=None)
        fingerprint = fingerprint_sha1(certs[0])
        if any(ca["fingerprint"] == fingerprint for ca in model.all(Kind.CAS)):
            raise ValidationError("a CA with this certificate already exists", field="certPem", value=fingerprint)
        data.update(fingerprint=fingerprint, isVerified=False, verificationToken=new_token())
        data["identityNameFormat"] = data["identityNameFormat"] or DEFAULT_IDENTITY_NAME_FORMAT

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        return [Delete(Kind.ENROLLMENTS, e["id"]) for e in model.where(Kind.ENROLLMENTS, caId=entity["id"])]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_command(model: Model, ca_id: str, pem: bytes | str, *, actor: str) -> Command:
    """Mark a CA verified, given a cert it signed whose CN is its verification token."""
    ca = model.get(Kind.CAS, ca_id)
    certs = load_certs_pem(pem)
    if len(certs) != 1:
        raise ValidationError("expected exactly one certificate", field="certificate")
    names = certs[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [n.value for n in names] != [ca["verificationToken"]]:
        raise ValidationError("the common name is not the CA's verification token", field="certificate")
    if not issued_by(certs[0], ca):
        raise ValidationError("the certificate is not signed by the CA", field="certificate")
    verified = {**ca, "isVerified": True, "updatedAt": now_text()}
    return Command(actor, f"verify ca {ca_id}", (Put(Kind.CAS, verified),))
