"""A real OpenID Connect issuer for tests: HTTPS on 127.0.0.1, discovery, JWKS, tokens with chosen claims.

Usage::

    async with open_idp(tmp_path) as idp:            # its own throw-away CA: idp.ca_path
        token = idp.token("alice", extra={"groups": ["eng"]})
        old = idp.rotate()                           # a new kid; the old key leaves the JWKS
        idp.mode = "down"                            # the JWKS answers 503 ("slow": after idp.slow_s)
        idp.grants.client_ids.add("cli")             # a public client of /authorize and /token (PKCE) ...
        idp.grants.approve = "alice"                 # ... whose logins approve alice (None: access_denied)

It serves ``/.well-known/openid-configuration``, ``/keys``, ``/authorize`` and ``/token`` (idp_oauth.py) with
hypercorn (trio, as the controller); tokens are signed by PyJWT with the current key (RS256, or ES256 after
``rotate("ES256")``). Nothing here is a mock: a controller fetches the keys over TLS and verifies signatures as
with any provider, and a client exchanges its code with its PKCE verifier as at any provider.
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

import jwt
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ziti_aio.common.ids import new_id
from ziti_aio.controller.api.server import serve_https
from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import key_to_pem
from ziti_aio.testing.idp_oauth import IdpGrants
from ziti_aio.transport.tls import server_context

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

DEFAULT_AUDIENCE = "ziti-aio"
Mode = Literal["up", "down", "slow"]
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class IdpKey:
    """One signing key of the issuer, with the self-signed certificate a ``certPem`` signer can trust."""

    kid: str
    alg: str
    key: SigningKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return certs_to_pem([self.cert]).decode()

    def jwk(self) -> dict[str, Any]:
        public = self.key.public_key()
        out = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True) if isinstance(public, ec.EllipticCurvePublicKey) \
            else jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        return {**out, "kid": self.kid, "alg": self.alg, "use": "sig"}


def _new_key(alg: str) -> IdpKey:
    key: SigningKey = ec.generate_private_key(ec.SECP256R1()) if alg.startswith("ES") \
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = new_id()
    # The key's own self-signed certificate: OpenZiti's certPem signers take a certificate, not a bare key.
    return IdpKey(kid, alg, key, _self_signed(key, kid))


def _self_signed(key: SigningKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test-idp {name}")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))


@dataclass
class TestIdp:
    """A running issuer: what tests configure a signer with, and the tokens they present."""

    __test__ = False  # not a pytest test class

    issuer: str
    ca_path: Path
    audience: str = DEFAULT_AUDIENCE
    mode: Mode = "up"
    slow_s: float = 30.0
    keys: list[IdpKey] = field(default_factory=list)
    retired: list[IdpKey] = field(default_factory=list)
    jwks_requests: int = 0
    grants: IdpGrants = field(init=False)

    def __post_init__(self) -> None:
        self.grants = IdpGrants(lambda sub, aud, extra: self.token(sub, aud=aud, extra=extra), self.audience)

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/keys"

    @property
    def current(self) -> IdpKey:
        return self.keys[-1]

    def rotate(self, alg: str = "RS256") -> IdpKey:
        """A new signing key (new kid) replaces the current one, which leaves the JWKS; returns the old key."""
        old = self.keys.pop()
        self.retired.append(old)
        self.keys.append(_new_key(alg))
        return old

    def claims(self, sub: str, *, aud: str | list[str] | None = None, iss: str | None = None,
               expires_in: float = 300, not_before_in: float | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iss": self.issuer if iss is None else iss,
                                  "aud": self.audience if aud is None else aud, "iat": now,
                                  "exp": int(now + expires_in), "jti": new_id()}
        if not_before_in is not None:
            claims["nbf"] = int(now + not_before_in)
        claims.update(extra or {})
        return claims

    def token(self, sub: str, *, key: IdpKey | None = None, kid: str | None = None, **claims: Any) -> str:
        """A token for ``sub`` signed with the current key (or ``key``); see :meth:`claims` for the rest."""
        key = key or self.current
        return jwt.encode(self.claims(sub, **claims), key.key, algorithm=key.alg,
                          headers={"kid": key.kid if kid is None else kid})

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.jwks_url,
                "authorization_endpoint": f"{self.issuer}/authorize", "token_endpoint": f"{self.issuer}/token",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "grant_types_supported": ["authorization_code"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys})}

    async def _app(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                   send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        body: dict[str, Any] = {"error": "not_found"}
        status = 404
        if path == "/.well-known/openid-configuration":
            status, body = 200, self.discovery()
        elif path == "/authorize" and scope["method"] == "GET":
            query = dict(parse_qsl(scope["query_string"].decode()))
            status, body, headers = self.grants.authorize(self._uri(scope), query)
            if status == 302:
                await _send(send, 302, b"", [(k.lower().encode(), v.encode()) for k, v in headers])
                return
        elif path == "/token" and scope["method"] == "POST":
            form = dict(parse_qsl((await _body(receive)).decode()))
            status, body, _ = self.grants.token(self._uri(scope), form)
        elif path == "/keys":
            self.jwks_requests += 1
            if self.mode == "slow":
                await trio.sleep(self.slow_s)
            status, body = (503, {"error": "unavailable"}) if self.mode == "down" \
                else (200, {"keys": [k.jwk() for k in self.keys]})
        await _send(send, status, json.dumps(body).encode(), [(b"content-type", b"application/json")])

    def _uri(self, scope: dict[str, Any]) -> str:
        return f"{self.issuer}{scope['path']}?{scope['query_string'].decode()}"


async def _body(receive: Callable[[], Awaitable[Any]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Callable[[dict[str, Any]], Awaitable[None]], status: int, data: bytes,
                headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


@asynccontextmanager
async def open_idp(directory: Path, *, audience: str = DEFAULT_AUDIENCE, alg: str = "RS256") -> AsyncIterator[TestIdp]:
    """Start an issuer on 127.0.0.1 (port 0) with a throw-away CA whose PEM is written to ``directory``."""
    await trio.to_thread.run_sync(_write_pki, directory)
    ssl_ctx = server_context(cert_chain=str(directory / "idp-server.pem"), key=str(directory / "idp-server.key"),
                             alpn=["http/1.1"])
    idp = TestIdp(issuer="", ca_path=directory / "idp-ca.pem", audience=audience, keys=[_new_key(alg)])
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve_https, idp._app, ssl_ctx, host="127.0.0.1", port=0))
        idp.issuer = binds[0]
        try:
            yield idp
        finally:
            nursery.cancel_scope.cancel(reason="test idp closed")


def _write_pki(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertAuthority.create_root("ziti-aio test idp CA", days=1)
    cert, key = ca.issue_server("127.0.0.1", ips=["127.0.0.1"], days=1)
    (directory / "idp-ca.pem").write_bytes(certs_to_pem(ca.certs))
    (directory / "idp-server.pem").write_bytes(certs_to_pem([cert, *ca.certs]))
    (directory / "idp-server.key").write_bytes(key_to_pem(key))


def public_key_pem(key: IdpKey) -> str:
    """The SubjectPublicKeyInfo PEM of a key (what an HS256 forgery with the public key uses as its secret)."""
    return key.key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
