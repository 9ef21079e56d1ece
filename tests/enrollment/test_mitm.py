"""A man in the middle at the enrollment JWT's issuer: every kind of enrollment refuses, sends nothing, writes nothing.

The endpoint below answers at the address the token names (its ``iss``). It plays the two attacks the
trust bootstrap must stop: it presents its own certificate and serves its own CA bundle (``foreign``), or
it presents the controller's genuine certificate (the strongest attacker: it holds the key) and serves a
bundle whose CAs carry the genuine names but did not issue that certificate (``unchained``). As a control,
the same endpoint serving the genuine bundle passes the bootstrap, so the refusals come from the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
import trio
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from ziti_aio.cli.config_file import CONFIG_DIR_ENV
from ziti_aio.cli.main import app
from ziti_aio.common import api_paths
from ziti_aio.common.errors import EnrollmentRefused
from ziti_aio.pki.bundle import cacerts_body
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt, sign_enrollment_jwt
from ziti_aio.pki.files import CERT_MODE, KEY_MODE, write_file
from ziti_aio.pki.keys import key_to_pem
from ziti_aio.router.enroll import enroll_router
from ziti_aio.sdk.bootstrap import bootstrap_trust
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.testing.controller import MANAGEMENT, RunningController, create
from ziti_aio.transport.serve import serve_tls
from ziti_aio.transport.tls import server_context

if TYPE_CHECKING:
    from pathlib import Path

    import httpx
    from cryptography import x509

    from ziti_aio.transport.tls_stream import TlsStream

MAX_HEAD_BYTES = 64 * 1024
NOT_SIGNED = "the token is not signed by the server at"
NOT_CHAINED = "does not chain to the CA bundle it served"


@dataclass
class Mitm:
    """An HTTPS endpoint on 127.0.0.1 answering as the attacker would; it records every request line."""

    url: str = ""
    seen: list[str] = field(default_factory=list)


def _answer(status: str, body: bytes, content_type: str) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode() + body


async def start_mitm(nursery: trio.Nursery, home: Path, *, cert_chain: bytes, key_pem: bytes,
                     bundle: list[x509.Certificate]) -> Mitm:
    """Serve ``bundle`` at ``/.well-known/est/cacerts`` and accept any enrollment, presenting ``cert_chain``."""
    home.mkdir(parents=True)
    write_file(home / "cert.pem", cert_chain, CERT_MODE)
    write_file(home / "key.pem", key_pem, KEY_MODE)
    ctx = server_context(cert_chain=str(home / "cert.pem"), key=str(home / "key.pem"))
    mitm = Mitm()
    forged = {"cert": cert_chain.decode(), "serverCert": cert_chain.decode(), "ca": cert_chain.decode()}

    async def handle(stream: TlsStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_HEAD_BYTES:
            chunk = await stream.receive_some()
            if not chunk:
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode()
        mitm.seen.append(request_line)
        if request_line.startswith(f"GET {api_paths.CACERTS}"):
            await stream.send_all(_answer("200 OK", cacerts_body(bundle), "application/pkcs7-mime"))
        else:
            await stream.send_all(_answer("200 OK", json.dumps({"data": forged, "meta": {}}).encode(),
                                          "application/json"))

    _, port = await nursery.start(partial(serve_tls, handle, ctx, host="127.0.0.1", port=0, name="mitm"))
    mitm.url = f"https://127.0.0.1:{port}"
    return mitm


def foreign_pki() -> tuple[bytes, bytes, list[x509.Certificate]]:
    """The attacker's own root, intermediate and server certificate for 127.0.0.1."""
    root = CertAuthority.create_root("attacker root CA", trust_domain="attacker")
    signer = root.create_intermediate("attacker intermediate CA", max_path_len=0)
    cert, key = signer.issue_server("attacker", dns=["127.0.0.1", "localhost"], key_kind="rsa2048")
    return signer.chain_pem(cert), key_to_pem(key), [root.cert, signer.cert]


def _common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def lookalike_bundle(controller: RunningController) -> list[x509.Certificate]:
    """CAs named exactly as the controller's, with other keys: they did not issue its certificate."""
    pki = controller.controller.pki
    assert pki is not None
    root = CertAuthority.create_root(_common_name(pki.root.cert), trust_domain=pki.root.trust_domain)
    signer = root.create_intermediate(_common_name(pki.signer.cert), max_path_len=0)
    assert [root.cert.subject, signer.cert.subject] == [pki.root.cert.subject, pki.signer.cert.subject]
    return [root.cert, signer.cert]


async def start_attack(nursery: trio.Nursery, controller: RunningController, home: Path, kind: str) -> Mitm:
    pki = controller.controller.pki
    assert pki is not None
    if kind == "foreign":
        chain, key_pem, bundle = foreign_pki()
    elif kind == "unchained":
        chain, key_pem, bundle = pki.server_chain_path.read_bytes(), key_to_pem(pki.server_key), \
            lookalike_bundle(controller)
    else:  # the control: what the genuine controller serves
        chain, key_pem, bundle = pki.server_chain_path.read_bytes(), key_to_pem(pki.server_key), pki.ca_bundle
    return await start_mitm(nursery, home, cert_chain=chain, key_pem=key_pem, bundle=bundle)


def redirected(controller: RunningController, jwt_text: str, issuer: str) -> str:
    """The genuine token's claims, signed as the controller signs, but naming ``issuer``: the token a victim
    holds when the attacker answers at the address it names."""
    pki = controller.controller.pki
    assert pki is not None
    claims = read_enrollment_jwt(jwt_text)
    return sign_enrollment_jwt(key=pki.server_key, cert=pki.server_cert, issuer=issuer, subject=claims["sub"],
                               token=claims["jti"], method=claims["em"],
                               expires_at=datetime.now(UTC) + timedelta(hours=1), controllers=claims.get("ctrls"))


async def identity_jwt(admin: httpx.AsyncClient, name: str, enrollment: dict[str, Any]) -> str:
    ident = await create(admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                               "enrollment": enrollment})
    detail = (await admin.get(f"{MANAGEMENT}/identities/{ident}")).json()["data"]
    method = next(iter(enrollment))
    return str(detail["enrollment"][method]["jwt"])


async def router_jwt(admin: httpx.AsyncClient, name: str) -> str:
    router = await create(admin, "edge-routers", {"name": name, "isTunnelerEnabled": False})
    return str((await admin.get(f"{MANAGEMENT}/edge-routers/{router}")).json()["data"]["enrollmentJwt"])


async def run_cli(*args: str, config_dir: Path) -> tuple[int, str]:
    runner = CliRunner()
    result = await trio.to_thread.run_sync(
        lambda: runner.invoke(app, list(args), env={CONFIG_DIR_ENV: str(config_dir)}))
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


ATTACKS = [("foreign", NOT_SIGNED), ("unchained", NOT_CHAINED)]


@pytest.mark.parametrize(("attack", "expected"), ATTACKS)
async def test_sdk_ott_enrollment_refuses(controller, admin, tmp_path, attack, expected):
    jwt_text = await identity_jwt(admin, "victim", {"ott": True})
    async with trio.open_nursery() as nursery:
        mitm = await start_attack(nursery, controller, tmp_path / "mitm", attack)
        out = tmp_path / "victim.json"
        with pytest.raises(EnrollmentRefused, match=expected):
            await enroll_identity(redirected(controller, jwt_text, mitm.url), out)
        nursery.cancel_scope.cancel()
    assert not out.exists()
    assert mitm.seen == [f"GET {api_paths.CACERTS} HTTP/1.1"]
    await enroll_identity(jwt_text, out)  # the genuine token was not used up
    assert json.loads(out.read_text())["ztAPI"] == controller.url


@pytest.mark.parametrize(("attack", "expected"), ATTACKS)
async def test_cli_ott_enrollment_refuses(controller, admin, tmp_path, attack, expected):
    jwt_text = await identity_jwt(admin, "victim", {"ott": True})
    async with trio.open_nursery() as nursery:
        mitm = await start_attack(nursery, controller, tmp_path / "mitm", attack)
        jwt_path = tmp_path / "victim.jwt"
        jwt_path.write_text(redirected(controller, jwt_text, mitm.url))
        code, stderr = await run_cli("enroll", str(jwt_path), config_dir=tmp_path / "cli")
        nursery.cancel_scope.cancel()
    assert code == 1 and stderr.startswith("error: refusing to enroll: ") and expected in stderr, stderr
    assert not (tmp_path / "victim.json").exists()
    assert mitm.seen == [f"GET {api_paths.CACERTS} HTTP/1.1"]


@pytest.mark.parametrize(("attack", "expected"), ATTACKS)
async def test_cli_updb_enrollment_refuses_before_the_password_is_sent(controller, admin, tmp_path, attack,
                                                                      expected):
    jwt_text = await identity_jwt(admin, "user", {"updb": "user-name"})
    async with trio.open_nursery() as nursery:
        mitm = await start_attack(nursery, controller, tmp_path / "mitm", attack)
        jwt_path = tmp_path / "user.jwt"
        jwt_path.write_text(redirected(controller, jwt_text, mitm.url))
        code, stderr = await run_cli("enroll", str(jwt_path), "-p", "user-password-1", config_dir=tmp_path / "cli")
        nursery.cancel_scope.cancel()
    assert code == 1 and stderr.startswith("error: refusing to enroll: ") and expected in stderr, stderr
    assert mitm.seen == [f"GET {api_paths.CACERTS} HTTP/1.1"]  # the password never left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctrl", "mitm", "user.jwt"]  # no file written
    async with controller.client() as anon:
        resp = await anon.post(f"{MANAGEMENT}/authenticate?method=password",
                               json={"username": "user-name", "password": "user-password-1"})
    assert resp.status_code == 401, resp.text


@pytest.mark.parametrize(("attack", "expected"), ATTACKS)
async def test_router_erott_enrollment_refuses(controller, admin, tmp_path, attack, expected):
    jwt_text = await router_jwt(admin, "r1")
    home = tmp_path / "router"
    async with trio.open_nursery() as nursery:
        mitm = await start_attack(nursery, controller, tmp_path / "mitm", attack)
        with pytest.raises(EnrollmentRefused, match=expected):
            await enroll_router(redirected(controller, jwt_text, mitm.url), home, names=["127.0.0.1"])
        nursery.cancel_scope.cancel()
    assert not home.exists()
    assert mitm.seen == [f"GET {api_paths.CACERTS} HTTP/1.1"]
    enrolled = await enroll_router(jwt_text, home, names=["127.0.0.1"])
    assert enrolled.ca.read_bytes() and enrolled.id


async def test_the_genuine_bundle_passes_the_same_endpoint(controller, admin, tmp_path):
    """The control: with the controller's own certificate and bundle the bootstrap trusts exactly that bundle."""
    jwt_text = await identity_jwt(admin, "victim", {"ott": True})
    async with trio.open_nursery() as nursery:
        mitm = await start_attack(nursery, controller, tmp_path / "mitm", "genuine")
        trusted = await bootstrap_trust(redirected(controller, jwt_text, mitm.url), methods=("ott",))
        nursery.cancel_scope.cancel()
    assert trusted.issuer.url == mitm.url
    assert trusted.ca_pem.count("BEGIN CERTIFICATE") == len(controller.controller.pki.ca_bundle)
