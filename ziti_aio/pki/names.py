"""Subject names, subject alternative names and SPIFFE ids shared by CAs, leaves and CSRs."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import NameOID

from ziti_aio.common.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable

IpLike = str | ipaddress.IPv4Address | ipaddress.IPv6Address
SPIFFE_SCHEME = "spiffe://"
MAX_NAME_CHARS = 64  # X.520 upper bound for CN and O
_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]{1,255}")
_SPIFFE_PATH = re.compile(r"(/[A-Za-z0-9._-]+)+")


def subject(common_name: str, org: str | None = None) -> x509.Name:
    """An ``O=<org>, CN=<common_name>`` name (``O`` only when given)."""
    for label, value in (("common name", common_name), ("organization", org)):
        if value is not None and not 0 < len(value) <= MAX_NAME_CHARS:
            raise ValidationError(f"{label} must be 1-{MAX_NAME_CHARS} characters", field=label, value=value)
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def parse_ip(value: IpLike) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP address object from a literal; :class:`ValidationError` when it is not one."""
    try:
        return ipaddress.ip_address(value)
    except ValueError as exc:
        raise ValidationError(f"not an IP address: {value!r}", field="ip", value=str(value)) from exc


def is_ip(name: str) -> bool:
    """Is ``name`` an IP address literal?"""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def san_entries(
    dns: Iterable[str] = (), ips: Iterable[IpLike] = (), uris: Iterable[str] = ()
) -> list[x509.GeneralName]:
    """SubjectAlternativeName entries: a DNS name for every name and every IP literal, an IP entry for every IP.

    libziti 0.29.3 accepts either a DNS SAN ``"127.0.0.1"`` or an IP SAN; Python's ssl needs the IP SAN.
    A name in ``dns`` that is an IP literal therefore also gets an IP entry. Duplicates are dropped.
    """
    names: dict[str, None] = {}
    addrs: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, None] = {}
    for name in dns:
        if not name or len(name) > 253 or not name.isascii() or any(c.isspace() for c in name):
            raise ValidationError(f"invalid DNS name {name!r}", field="dns", value=name)
        names[name] = None
        if is_ip(name):
            addrs[ipaddress.ip_address(name)] = None
    for ip in ips:
        addr = parse_ip(ip)
        names[str(ip) if isinstance(ip, str) else str(addr)] = None
        addrs[addr] = None
    entries: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    entries += [x509.IPAddress(a) for a in addrs]
    entries += [x509.UniformResourceIdentifier(u) for u in dict.fromkeys(uris)]
    return entries


def trust_domain_uri(trust_domain: str) -> str:
    """``spiffe://<trust_domain>`` after checking the trust domain's SPIFFE syntax."""
    if not _TRUST_DOMAIN.fullmatch(trust_domain):
        raise ValidationError(
            "a trust domain is lower-case letters, digits, '.', '-' and '_'", field="trustDomain", value=trust_domain
        )
    return SPIFFE_SCHEME + trust_domain


def spiffe_uris(cert: x509.Certificate) -> list[str]:
    """Every ``spiffe://`` URI SAN of ``cert``."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(SPIFFE_SCHEME)]


def resolve_spiffe_id(spiffe_id: str, trust_domain: str | None) -> str:
    """A full SPIFFE id: ``spiffe://td/path`` is checked and kept; a bare path is joined to ``trust_domain``."""
    if spiffe_id.startswith(SPIFFE_SCHEME):
        domain, sep, path = spiffe_id[len(SPIFFE_SCHEME) :].partition("/")
        trust_domain_uri(domain)
        path = sep + path
    elif trust_domain is None:
        raise ValidationError(
            "a relative SPIFFE id needs a CA with a trust domain", field="spiffeId", value=spiffe_id
        )
    else:
        domain, path = trust_domain, "/" + spiffe_id.lstrip("/")
    if path and (not _SPIFFE_PATH.fullmatch(path) or {".", ".."} & set(path.split("/"))):
        raise ValidationError(f"invalid SPIFFE id path {path!r}", field="spiffeId", value=spiffe_id)
    return SPIFFE_SCHEME + domain + path


def session_spiffe_path(identity_id: str, api_session_id: str) -> str:
    """The SPIFFE id path of a session certificate: it names the identity and the API session it is bound to
    (the controller issues it, routers accept it for that API session only)."""
    return f"identity/{identity_id}/api-session/{api_session_id}"
