"""Edge router enrollment with an ``erott`` JWT, and the router's home directory.

Trust comes from the token, as for identities (:mod:`ziti_aio.sdk.bootstrap`): the controller's leaf
certificate and CA bundle, fetched on one TLS connection to the JWT's issuer, must match the JWT's signature
and chain to each other; then a client and a server CSR are POSTed to
``{iss}/edge/client/v1/enroll?method=erott&token=<jti>`` over TLS trusting only that bundle.

Home layout: ``cert.pem``/``key.pem`` (client chain, for the control channel), ``server-cert.pem``/
``server-key.pem`` (edge listener), ``ca.pem`` (network CA bundle) and ``router.json``
(``{id, name, ctrl}``, the control channel address ``tls:host:port`` from the JWT's ``ctrls``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common import api_paths
from ziti_aio.common.errors import EnrollmentRefused, InvalidEnrollmentToken
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt
from ziti_aio.pki.files import CERT_MODE, KEY_MODE, write_file
from ziti_aio.pki.keys import generate_key, key_to_pem
from ziti_aio.sdk.bootstrap import ENROLL_TIMEOUT_S, bootstrap_trust, post_enrollment

if TYPE_CHECKING:
    from collections.abc import Sequence

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
    trusted = await bootstrap_trust(jwt_text, methods=("erott",), timeout_s=timeout_s)
    client_key, server_key = generate_key("ec256"), generate_key("ec256")
    body = {
        "certCsr": create_csr(client_key, claims["sub"]).public_bytes(Encoding.PEM).decode(),
        "serverCertCsr": create_csr(server_key, claims["sub"], dns=names).public_bytes(Encoding.PEM).decode(),
    }
    try:
        certs = await post_enrollment(trusted, api_paths.CLIENT + "/enroll", timeout_s=timeout_s,
                                      params={"method": "erott", "token": claims["jti"]}, json=body)
    except EnrollmentRefused as exc:
        raise EnrollmentRefused(f"router enrollment refused: {exc.message}") from exc
    if not all(isinstance(certs.get(name), str) for name in ("cert", "serverCert")):
        raise EnrollmentRefused("router enrollment refused: the answer holds no certificates")
    home = Path(home)
    router = RouterHome(home, claims["sub"], claims["sub"], ctrls[0])
    write_file(router.cert, certs["cert"].encode(), CERT_MODE)
    write_file(router.key, key_to_pem(client_key), KEY_MODE)
    write_file(router.server_cert, certs["serverCert"].encode(), CERT_MODE)
    write_file(router.server_key, key_to_pem(server_key), KEY_MODE)
    write_file(router.ca, (certs.get("ca") or trusted.ca_pem).encode(), CERT_MODE)
    write_file(home / ROUTER_FILE, json.dumps({"id": router.id, "name": router.name, "ctrl": router.ctrl_address},
                                              indent=2).encode(), CERT_MODE)
    return router
