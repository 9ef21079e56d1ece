"""The enrollment trust bootstrap: one TLS connection to the JWT's issuer, then only the checked CA bundle.

Every enrollment (``ott`` and ``updb`` identities, ``erott`` routers) goes through :func:`bootstrap_trust`:
the controller's leaf certificate and its ``/.well-known/est/cacerts`` body come from the *same* TLS
connection (which trusts nothing yet; the body is capped at ``MAX_BUNDLE_BYTES``), the checks of
:mod:`ziti_aio.pki.controller_trust` decide, and :func:`post_enrollment` then talks to the controller over
TLS that trusts only that bundle and checks the host name. :func:`fetch_cacerts` alone serves
``ziti-aio login -y``, which trusts the bundle it is given, as ``ziti edge login -y`` does.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import httpx
import trio

from ziti_aio.common import api_paths
from ziti_aio.common.errors import EnrollmentRefused, InvalidEnrollmentToken
from ziti_aio.pki.bundle import MAX_BUNDLE_BYTES
from ziti_aio.pki.controller_trust import TrustedController, token_issuer, trust_from_token
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt

if TYPE_CHECKING:
    from collections.abc import Collection

ENROLL_TIMEOUT_S = 30.0


def refusal(resp: httpx.Response) -> EnrollmentRefused:
    """The controller's error envelope (code: message) as an :class:`EnrollmentRefused`."""
    try:
        error = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return EnrollmentRefused(f"{error.get('code') or f'HTTP_{resp.status_code}'}: "
                             f"{error.get('message') or resp.reason_phrase or 'request failed'}")


async def _read_capped(resp: httpx.Response, url: str) -> bytes:
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > MAX_BUNDLE_BYTES:
            raise EnrollmentRefused(f"the answer of {url} is larger than {MAX_BUNDLE_BYTES} bytes")
    return bytes(body)


async def fetch_cacerts(url: str, *, timeout_s: float = ENROLL_TIMEOUT_S) -> tuple[bytes, bytes]:
    """The leaf certificate (DER) of the TLS server at ``url`` and its ``cacerts`` body, both read on one
    connection that verifies nothing. :class:`EnrollmentRefused` when unreachable, refused or oversized."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no system CAs to load: nothing is verified here
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        with trio.fail_after(timeout_s):
            async with httpx.AsyncClient(verify=probe, timeout=timeout_s) as http, \
                    http.stream("GET", url + api_paths.CACERTS, headers={"Accept": "application/pkcs7-mime"}) as resp:
                der = resp.extensions["network_stream"].get_extra_info("ssl_object").getpeercert(True)
                body = await _read_capped(resp, url)
    except trio.TooSlowError as exc:
        raise EnrollmentRefused(f"fetching the CA bundle of {url} timed out") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise EnrollmentRefused(f"cannot reach {url}: {exc}") from exc
    if resp.is_error:
        raise refusal(httpx.Response(resp.status_code, content=body))
    if not der:
        raise EnrollmentRefused(f"{url} presented no server certificate")
    return bytes(der), body


async def bootstrap_trust(jwt_text: str, *, methods: Collection[str],
                          timeout_s: float = ENROLL_TIMEOUT_S) -> TrustedController:
    """Decide, from the enrollment JWT alone, which CA bundle its issuer may be trusted with.

    The token's method must be one of ``methods``. Error handling: :class:`InvalidEnrollmentToken` for a
    malformed token or another method, :class:`EnrollmentRefused` when a check fails; nothing is written.
    """
    text = jwt_text.strip()
    claims = read_enrollment_jwt(text)
    if claims["em"] not in methods:
        raise InvalidEnrollmentToken(f"not a {' or '.join(sorted(methods))} enrollment token "
                                     f"(method {claims['em']!r})")
    leaf, cacerts = await fetch_cacerts(token_issuer(claims).url, timeout_s=timeout_s)
    return trust_from_token(text, leaf, cacerts)


async def post_enrollment(trusted: TrustedController, path: str, *, timeout_s: float = ENROLL_TIMEOUT_S,
                          **request: Any) -> dict[str, Any]:
    """POST to ``path`` (under the issuer's URL) over TLS that trusts only the bootstrapped bundle and checks
    the issuer's host name; returns the answer's ``data`` (``{}`` when it has none).
    :class:`EnrollmentRefused` on any failure."""
    url = trusted.issuer.url
    try:
        with trio.fail_after(timeout_s):
            async with httpx.AsyncClient(verify=ssl.create_default_context(cadata=trusted.ca_pem),
                                         timeout=timeout_s) as http:
                resp = await http.post(url + path, **request)
    except trio.TooSlowError as exc:
        raise EnrollmentRefused(f"enrolling at {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise EnrollmentRefused(f"cannot reach {url}: {exc}") from exc
    if resp.is_error:
        raise refusal(resp)
    try:
        data = resp.json().get("data")
    except (ValueError, AttributeError):
        data = None
    return data if isinstance(data, dict) else {}
