"""Identity enrollment the way libziti 0.29.3 does it: ``ott`` (writes an identity file) and ``updb`` (sets a password);
and just-in-time enrollment with an external JWT (:func:`enroll_ext_jwt`).

Trust comes from the token, through :mod:`ziti_aio.sdk.bootstrap`: only a CA bundle that the JWT's issuer
proved on one TLS connection is trusted, for the enrollment request and, in the identity file, from then on.
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import trio
from cryptography.hazmat.primitives import serialization

from ziti_aio.common import api_paths
from ziti_aio.common.errors import EnrollmentRefused
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import PrivateKey, generate_key
from ziti_aio.sdk.bootstrap import ENROLL_TIMEOUT_S, bootstrap_trust, post_enrollment, refusal

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


async def enroll_ext_jwt(controller_url: str, token: str, *, ca_pem: str, out: Path | None = None,
                         signer_id: str | None = None, timeout_s: float = ENROLL_TIMEOUT_S) -> None:
    """Just-in-time enrollment with an external JWT (``POST /enroll/token``, docs/external-jwt.md).

    With ``out``, a new key's CSR goes in the same exchange and the certificate comes back: the identity file
    is written to ``out`` (new, 0600). Without it the identity is token-only (it logs in with ``ext-jwt``).
    ``ca_pem`` is the controller's CA bundle (there is no enrollment JWT to bootstrap trust from).
    """
    key = generate_key("ec256") if out is not None else None
    body = {"clientCsr": create_csr(key, "jit").public_bytes(serialization.Encoding.PEM).decode()} if key else {}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if signer_id:
        headers["ziti-token-issuer-id"] = signer_id
    url = controller_url.rstrip("/")
    try:
        with trio.fail_after(timeout_s):
            async with httpx.AsyncClient(verify=ssl.create_default_context(cadata=ca_pem), timeout=timeout_s) as http:
                resp = await http.post(url + api_paths.CLIENT + "/enroll/token", json=body, headers=headers)
    except trio.TooSlowError as exc:
        raise EnrollmentRefused(f"enrolling at {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise EnrollmentRefused(f"cannot reach {url}: {exc}") from exc
    if resp.is_error:
        raise refusal(resp)
    if out is None or key is None:
        return
    cert = (resp.json().get("data") or {}).get("cert")
    if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
        raise EnrollmentRefused("the controller's enrollment answer holds no certificate")
    await trio.to_thread.run_sync(write_new, Path(out), identity_file(url, cert, key, ca_pem))
