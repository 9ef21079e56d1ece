"""Session-bound certificates: a password login (or a refresh, or a token exchange) sends a CSR in the OIDC
flow and gets a certificate that routers accept with that login's tokens only, and no longer once the login
ended or the certificate was deleted; it is the client API's session certificate (one store, one check)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki.bundle import fingerprint_sha1, load_certs_pem
from ziti_aio.sdk.router_channel import connect_router
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, CLIENT
from ziti_aio.transport.tls import client_context

from .flow import anonymous_client, identity_client, tokens_for

if TYPE_CHECKING:
    from pathlib import Path

LOGIN = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}


def _csr_and_key(tmp_path: Path) -> tuple[str, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "session")])).sign(key, hashes.SHA256())
    key_path = tmp_path / "session.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key_path


async def _hello_accepted(url: str, ssl, token: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        router = await connect_router(url, ssl, token, "session-cert")
    except Exception:  # the router closes without answering the hello
        return False
    await router.aclose()
    return True


async def test_a_session_certificate_works_with_its_login_only(net, tmp_path):
    csr, key_path = _csr_and_key(tmp_path)
    async with anonymous_client(net) as client:
        issued = await tokens_for(client, login="password", body={**LOGIN, "csrPem": csr})
    chain = issued["session_cert"]
    [cert, *_] = load_certs_pem(chain.encode())
    claims = jwt.decode(issued["access_token"], options={"verify_signature": False})
    assert claims["z_cfs"] == [fingerprint_sha1(cert)], "its tokens are bound to it"
    cert_path = tmp_path / "session.pem"
    cert_path.write_text(chain)
    ssl = client_context(ca=str(net.controller.info.ca_bundle_path), cert_chain=str(cert_path), key=str(key_path))
    url = net.routers[0].info.edge_address

    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        alices = await tokens_for(client)
    assert await _hello_accepted(url, ssl, issued["access_token"]), "the session certificate with its own login"
    assert not await _hello_accepted(url, ssl, alices["access_token"]), "the certificate is not alice's"

    async with anonymous_client(net) as client:
        ended = await client.post("/oidc/end_session", params={"id_token_hint": issued["id_token"]})
    assert ended.status_code == 200, ended.text
    assert not await _hello_accepted(url, ssl, issued["access_token"]), "the login ended"


async def test_a_bad_csr_is_refused_and_stores_nothing(net):
    async with anonymous_client(net) as client:
        before = len(await net.get("api-sessions"))
        started = await client.post("/oidc/authorize", params={
            "client_id": "openziti", "response_type": "code", "redirect_uri": "http://localhost:1/auth/callback",
            "code_challenge": "x" * 43, "code_challenge_method": "S256"})
        request_id = started.headers["location"].split("authRequestID=")[1]
        refused = await client.post("/oidc/login/password", params={"id": request_id},
                                    json={**LOGIN, "csrPem": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == ValidationError.code, refused.text
    assert len(await net.get("api-sessions")) == before


async def test_a_refresh_with_a_csr_gets_a_new_session_certificate(net, tmp_path):
    csr, _ = _csr_and_key(tmp_path)
    async with anonymous_client(net) as client:
        issued = await tokens_for(client, login="password", body=LOGIN)
        form = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": "openziti"}
        bad = await client.post("/oidc/oauth/token", data={**form, "csr_pem": "not a csr"})
        renewed = await client.post("/oidc/oauth/token", data={**form, "csr_pem": csr})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    assert renewed.status_code == 200, renewed.text
    [cert, *_] = load_certs_pem(renewed.json()["session_cert"].encode())
    claims = jwt.decode(renewed.json()["access_token"], options={"verify_signature": False})
    assert claims["z_cfs"] == [fingerprint_sha1(cert)]
    assert "session_cert" not in issued


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _spiffe_paths(cert: x509.Certificate) -> list[str]:
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [uri.split("/", 3)[3] for uri in sans.get_values_for_type(x509.UniformResourceIdentifier)]


async def test_a_token_exchange_with_a_csr_gets_a_session_certificate(net, tmp_path):
    csr, key_path = _csr_and_key(tmp_path)
    async with anonymous_client(net) as client:
        issued = await tokens_for(client, login="password", body=LOGIN)
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "client_id": "openziti",
                "subject_token": issued["refresh_token"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}
        bad = await client.post("/oidc/oauth/token", data={**form, "csr_pem": "not a csr"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request", bad.text
        mine = await client.get(f"{CLIENT}/current-api-session/certificates", headers=_bearer(issued["access_token"]))
        assert mine.json()["data"] == [], "a refused exchange stores nothing"
        exchanged = await client.post("/oidc/oauth/token", data={**form, "csr_pem": csr})
        assert exchanged.status_code == 200, exchanged.text
        got = exchanged.json()
        mine = await client.get(f"{CLIENT}/current-api-session/certificates", headers=_bearer(got["access_token"]))
    chain = got["session_cert"]
    [cert, *_] = load_certs_pem(chain.encode())
    claims = jwt.decode(got["access_token"], options={"verify_signature": False})
    assert claims["z_cfs"] == [fingerprint_sha1(cert)], "the exchanged tokens are bound to it"
    # one store for every session certificate: the client API lists it for the same API session
    assert [c["fingerprint"] for c in mine.json()["data"]] == [fingerprint_sha1(cert)]
    assert _spiffe_paths(cert) == [f"identity/{claims['sub']}/api-session/{claims['z_asid']}"]
    cert_path = tmp_path / "session.pem"
    cert_path.write_text(chain)
    ssl = client_context(ca=str(net.controller.info.ca_bundle_path), cert_chain=str(cert_path), key=str(key_path))
    assert await _hello_accepted(net.routers[0].info.edge_address, ssl, got["access_token"])


async def test_a_deleted_oidc_session_certificate_is_refused_by_routers(net, tmp_path):
    csr, key_path = _csr_and_key(tmp_path)
    async with anonymous_client(net) as client:
        issued = await tokens_for(client, login="password", body={**LOGIN, "csrPem": csr})
        headers = _bearer(issued["access_token"])
        [stored] = (await client.get(f"{CLIENT}/current-api-session/certificates", headers=headers)).json()["data"]
        cert_path = tmp_path / "session.pem"
        cert_path.write_text(issued["session_cert"])
        ssl = client_context(ca=str(net.controller.info.ca_bundle_path), cert_chain=str(cert_path),
                             key=str(key_path))
        url = net.routers[0].info.edge_address
        assert await _hello_accepted(url, ssl, issued["access_token"])
        deleted = await client.delete(f"{CLIENT}/current-api-session/certificates/{stored['id']}", headers=headers)
        assert deleted.status_code == 200, deleted.text
    # the token still lists it in z_cfs; its revocation decides, as for the client API's certificates
    assert stored["fingerprint"] in jwt.decode(issued["access_token"], options={"verify_signature": False})["z_cfs"]
    verifier = net.routers[0].router.parts.tokens.verifier
    await wait_until(lambda: stored["fingerprint"] in verifier.revoked_certs, 10, what="the revocation at the router")
    assert not await _hello_accepted(url, ssl, issued["access_token"])
