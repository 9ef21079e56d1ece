"""Identity enrollment the way libziti 0.29.3 does it: ``ott`` (writes an identity file) and ``updb`` (sets a password).

Trust comes from the token, through :mod:`ziti_aio.sdk.bootstrap`: only a CA bundle that the JWT's issuer
proved on one TLS connection is trusted, for the enrollment request and, in the identity file, from then on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from cryptography.hazmat.primitives import serialization

from ziti_aio.common import api_paths
from ziti_aio.common.errors import EnrollmentRefused
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import PrivateKey, generate_key
from ziti_aio.sdk.bootstrap import ENROLL_TIMEOUT_S, bootstrap_trust, post_enrollment

if TYPE_CHECKING:
    from ziti_aio.pki.controller_trust import TrustedController


def identity_file(iss: str, cert_pem: str, key: PrivateKey, ca_pem: str) -> dict[str, Any]:
    """The identity file as libziti 0.29.3 writes it: raw PEM strings, no ``pem:`` prefix."""
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return {"ztAPI": iss, "id": {"cert": cert_pem, "key": key_pem, "ca": ca_pem}}


def write_new(path: Path, data: dict[str, Any]) -> None:
    """Create ``path`` (0600, never overwriting) holding ``data`` as JSON."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)


async def enroll_identity(jwt_text: str, out: Path, *, timeout_s: float = ENROLL_TIMEOUT_S) -> str:
    """Enroll an ``ott`` identity with ``jwt_text`` and write its identity file to ``out`` (new, 0600).

    Returns the identity's name (the token's ``sub``). Raises :class:`ZitiError` subclasses; on failure
    nothing is written.
    """
    trusted = await bootstrap_trust(jwt_text, methods=("ott",), timeout_s=timeout_s)
    claims = trusted.claims
    key = generate_key("ec256")
    csr = create_csr(key, claims["sub"]).public_bytes(serialization.Encoding.PEM)
    data = await post_enrollment(trusted, api_paths.CLIENT + "/enroll", timeout_s=timeout_s,
                                 params={"method": "ott", "token": claims["jti"]}, content=csr,
                                 headers={"Content-Type": "text/plain", "Accept": "application/json"})
    cert = data.get("cert")
    if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
        raise EnrollmentRefused("the controller's enrollment answer holds no certificate")
    await trio.to_thread.run_sync(write_new, Path(out),
                                  identity_file(trusted.issuer.url, cert, key, trusted.ca_pem))
    return str(claims["sub"])


async def enroll_updb(trusted: TrustedController, password: str, *, timeout_s: float = ENROLL_TIMEOUT_S) -> None:
    """Set the password of the ``updb`` identity whose token ``trusted`` came from (see :func:`bootstrap_trust`:
    the password is only ever sent to the issuer it proved)."""
    await post_enrollment(trusted, api_paths.CLIENT + "/enroll/updb", timeout_s=timeout_s,
                          params={"token": trusted.claims["jti"]}, json={"password": password})
