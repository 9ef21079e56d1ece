"""``/oidc/login/ext-jwt``: an external identity provider's JWT logs in through the OIDC flow, checked as
``POST /authenticate?method=ext-jwt`` checks it; a refused token issues nothing; a CSR in that login gets a
session certificate a router accepts with the login's token."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ziti_aio.sdk.router_channel import connect_router
from ziti_aio.testing import open_network
from ziti_aio.testing.controller import CLIENT, create
from ziti_aio.testing.idp import open_idp
from ziti_aio.transport.tls import client_context

from .flow import REDIRECT, Flow, anonymous_client, authorize, exchange, query


async def test_an_external_jwt_logs_in_through_the_oidc_flow(tmp_path):
    async with open_idp(tmp_path / "idp") as ziti_idp, open_network(tmp_path / "net", idp=ziti_idp) as net:
        bob = await create(net.admin, "identities", {"name": "bob", "type": "User", "isAdmin": False,
                                                     "externalId": "bob@example.com"})
        async with anonymous_client(net) as client:
            started = await authorize(client, verifier="v" * 50, state="s" * 30)
            request_id = query(started.headers["location"])["authRequestID"]
            expired = await client.post("/oidc/login/ext-jwt", params={"id": request_id}, json={}, headers={
                "Authorization": f"Bearer {ziti_idp.token('bob@example.com', expires_in=-60)}"})
            assert expired.status_code == 401 and expired.json()["error"]["code"] == "UNAUTHORIZED"
            none = await client.post("/oidc/login/ext-jwt", params={"id": request_id}, json={})
            assert none.status_code == 401

            logged_in = await client.post("/oidc/login/ext-jwt", params={"id": request_id}, json={}, headers={
                "Authorization": f"Bearer {ziti_idp.token('bob@example.com')}"})
            assert logged_in.status_code == 302, logged_in.text
            issued = await client.get(logged_in.headers["location"])
            assert issued.headers["location"].startswith(REDIRECT)
            answer = await exchange(client, Flow(query(issued.headers["location"])["code"], "v" * 50, "s" * 30))
            assert answer.status_code == 200, answer.text
            me = await client.get(f"{CLIENT}/current-identity",
                                  headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
        assert me.status_code == 200 and me.json()["data"]["id"] == bob


async def test_an_external_jwt_login_gets_a_session_certificate_that_reaches_a_router(tmp_path):
    async with open_idp(tmp_path / "idp") as ziti_idp, open_network(tmp_path / "net", idp=ziti_idp) as net:
        await create(net.admin, "identities", {"name": "carl", "type": "User", "isAdmin": False,
                                               "externalId": "carl@example.com"})
        key = ec.generate_private_key(ec.SECP256R1())
        csr = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "carl-session")])).sign(key, hashes.SHA256())
        (tmp_path / "session.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        async with anonymous_client(net) as client:
            started = await authorize(client, verifier="v" * 50, state="s" * 30)
            request_id = query(started.headers["location"])["authRequestID"]
            logged_in = await client.post(
                "/oidc/login/ext-jwt", params={"id": request_id},
                json={"csrPem": csr.public_bytes(serialization.Encoding.PEM).decode()},
                headers={"Authorization": f"Bearer {ziti_idp.token('carl@example.com')}"})
            assert logged_in.status_code == 302, logged_in.text
            issued = await client.get(logged_in.headers["location"])
            answer = await exchange(client, Flow(query(issued.headers["location"])["code"], "v" * 50, "s" * 30))
            assert answer.status_code == 200, answer.text
        (tmp_path / "session.pem").write_text(answer.json()["session_cert"])
        ssl = client_context(ca=str(net.controller.info.ca_bundle_path), cert_chain=str(tmp_path / "session.pem"),
                             key=str(tmp_path / "session.key"))
        router = await connect_router(net.routers[0].info.edge_address, ssl, answer.json()["access_token"], "carl")
        await router.aclose()
