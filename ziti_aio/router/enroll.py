"""Edge router enrollment with an ``erott`` JWT, and the router's home directory.

As libziti does for identities: decode the JWT, fetch the controller's TLS leaf certificate
from the JWT's issuer and check the JWT signature against it, fetch the CA bundle from
``/.well-known/est/cacerts``, then POST a client and a server CSR to
``{iss}/edge/client/v1/enroll?method=erott&token=<jti>`` trusting only that bundle.

Home layout: ``cert.pem``/``key.pem`` (client chain, for the control channel), ``server-cert.pem``/
``server-key.pem`` (edge listener), ``ca.pem`` (network CA bundle) and ``router.json``
(``{id, name, ctrl}``, the control channel address ``tls:host:port`` from the JWT's ``ctrls``).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import trio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.errors import InvalidEnrollmentToken
from ziti_aio.pki.bundle import certs_to_pem, parse_pkcs7_certs
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt
from ziti_aio.pki.files import CERT_MODE, KEY_MODE, write_file
from ziti_aio.pki.keys import generate_key, key_to_pem
from ziti_aio.sdk.enroll import EnrollmentRefused, refusal
from ziti_aio.transport.tls import open_tls, peer_certificate

if TYPE_CHECKING:
    from collections.abc import Sequence

ENROLL_TIMEOUT_S = 30.0
ROUTER_FILE = "router.json"


@dataclass(frozen=True)
class RouterHome:
    """An enrolled router's files."""

    home: Path
    id: str
    name: str
    ctrl_address: str

    @property
    def cert(self) -> Path:
        return self.home / "cert.pem"

    @property
    def key(self) -> Path:
        return self.home / "key.pem"

    @property
    def server_cert(self) -> Path:
        return self.home / "server-cert.pem"

    @property
    def server_key(self) -> Path:
        return self.home / "server-key.pem"

    @property
    def ca(self) -> Path:
        return self.home / "ca.pem"

    @classmethod
    def load(cls, home: Path) -> RouterHome:
        """Read ``router.json`` from an enrolled home."""
        data = json.loads((Path(home) / ROUTER_FILE).read_text())
        return cls(Path(home), data["id"], data["name"], data["ctrl"])


def _issuer_address(issuer: str) -> tuple[str, int]:
    parts = urlsplit(issuer)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidEnrollmentToken(f"the enrollment JWT issuer {issuer!r} is not an https URL")
    return parts.hostname, parts.port or 443


async def _server_leaf(host: str, port: int) -> bytes:
    """The controller's TLS leaf certificate (DER), fetched without trusting anything yet."""
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    stream = await open_tls(host, port, probe)
    try:
        cert = peer_certificate(stream)
    finally:
        await trio.aclose_forcefully(stream)
    if cert is None:
        raise InvalidEnrollmentToken("the controller presented no certificate")
    return cert.public_bytes(Encoding.DER)


async def enroll_router(jwt_text: str, home: Path, *, names: Sequence[str],
                        timeout_s: float = ENROLL_TIMEOUT_S) -> RouterHome:
    """Enroll with ``jwt_text`` into ``home``; ``names`` (hosts/IPs the edge listener is reached
    at) go into the server certificate. Raises :class:`ZitiError` subclasses on failure."""
    claims = read_enrollment_jwt(jwt_text)
    if claims["em"] != "erott":
        raise InvalidEnrollmentToken(f"not a router enrollment token (method {claims['em']!r})")
    ctrls = claims.get("ctrls")
    if not isinstance(ctrls, list) or not ctrls or not isinstance(ctrls[0], str):
        raise InvalidEnrollmentToken("the enrollment JWT names no control channel address (ctrls)")
    issuer = claims["iss"]
    host, port = _issuer_address(issuer)
    with trio.fail_after(timeout_s):
        leaf = x509.load_der_x509_certificate(await _server_leaf(host, port))
        read_enrollment_jwt(jwt_text, verify_with_cert=leaf)
        async with httpx.AsyncClient(verify=False, timeout=timeout_s) as insecure:
            resp = await insecure.get(f"{issuer}/.well-known/est/cacerts")
        if resp.status_code != 200:
            raise InvalidEnrollmentToken(f"fetching the CA bundle failed: HTTP {resp.status_code}")
        ca_pem = certs_to_pem(parse_pkcs7_certs(resp.content)).decode()
        client_key, server_key = generate_key("ec256"), generate_key("ec256")
        body = {
            "certCsr": create_csr(client_key, claims["sub"]).public_bytes(Encoding.PEM).decode(),
            "serverCertCsr": create_csr(server_key, claims["sub"], dns=names).public_bytes(Encoding.PEM).decode(),
        }
        trusted = ssl.create_default_context(cadata=ca_pem)
        async with httpx.AsyncClient(verify=trusted, timeout=timeout_s) as client:
            resp = await client.post(f"{issuer}/edge/client/v1/enroll",
                                     params={"method": "erott", "token": claims["jti"]}, json=body)
    if resp.status_code != 200:
        raise EnrollmentRefused(f"router enrollment refused: {refusal(resp).message}")
    certs = resp.json()["data"]
    home = Path(home)
    router = RouterHome(home, claims["sub"], claims["sub"], ctrls[0])
    write_file(router.cert, certs["cert"].encode(), CERT_MODE)
    write_file(router.key, key_to_pem(client_key), KEY_MODE)
    write_file(router.server_cert, certs["serverCert"].encode(), CERT_MODE)
    write_file(router.server_key, key_to_pem(server_key), KEY_MODE)
    write_file(router.ca, (certs.get("ca") or ca_pem).encode(), CERT_MODE)
    write_file(home / ROUTER_FILE, json.dumps({"id": router.id, "name": router.name, "ctrl": router.ctrl_address},
                                              indent=2).encode(), CERT_MODE)
    return router
