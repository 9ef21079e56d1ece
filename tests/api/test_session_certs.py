"""Session-bound certificates: ``/current-api-session/certificates`` on the client API, and a router that
accepts such a certificate with its own API session's token only, and no longer once it is deleted or its
API session ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ziti_aio.common.errors import ZitiError
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import generate_key
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.sdk.router_channel import connect_router
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until
from ziti_aio.transport.tls import client_context

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "session-cert-password"


def _csr(key, name: str) -> str:
    return create_csr(key, name).public_bytes(Encoding.PEM).decode()


async def _login(net, username: str) -> str:
    async with net.controller.client() as anon:
        resp = await anon.post(f"{CLIENT}/authenticate", params={"method": "password"},
                               json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["token"]


async def _user(net, name: str) -> str:
    user = await create(net.admin, "identities", {"name": name, "type": "User"})
    await create(net.admin, "authenticators", {"method": "updb", "identityId": user, "username": name,
                                               "password": PASSWORD})
    return user


async def _hello(url: str, ssl_context, token: str) -> bool:
    """Does the router accept a channel with this certificate and token?"""
    try:
        channel = await connect_router(url, ssl_context, token, "session-cert-test")
    except (ZitiError, OSError):
        return False
    await channel.aclose()
    return True


async def test_a_session_certificate_opens_router_channels_for_its_api_session_only(tmp_path: Path):
    async with open_network(tmp_path, routers=1) as net:
        router_url = net.routers[0].info.edge_address
        ca_pem = load_identity((await net.create_identity("trust-source")).path).ca_pem
        user = await _user(net, "pw-user")
        await _user(net, "other-user")
        token = await _login(net, "pw-user")
        key = generate_key("ec256")
        async with net.controller.client(token=token) as own:
            resp = await own.post(f"{CLIENT}/current-api-session/certificates", json={"csr": _csr(key, f"{user}-1")})
            assert resp.status_code == 201, resp.text
            created = resp.json()["data"]
            cert = x509.load_pem_x509_certificate(created["certificate"].encode())
            assert cert.not_valid_after_utc > cert.not_valid_before_utc
            listed = (await own.get(f"{CLIENT}/current-api-session/certificates")).json()["data"]
            assert [c["id"] for c in listed] == [created["id"]]
            assert listed[0]["fingerprint"] and f"CN={user}-1" in listed[0]["subject"]
            # A CSR for another identity's name, or with a weak key, is refused and nothing is stored.
            other = await own.post(f"{CLIENT}/current-api-session/certificates",
                                   json={"csr": _csr(generate_key("ec256"), "other-user")})
            weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            weak = await own.post(f"{CLIENT}/current-api-session/certificates", json={"csr": _csr(weak_key, user)})
            assert (other.status_code, weak.status_code) == (400, 400), (other.text, weak.text)
            assert len((await own.get(f"{CLIENT}/current-api-session/certificates")).json()["data"]) == 1

        chain, key_file = tmp_path / "session.pem", tmp_path / "session.key"
        chain.write_text(created["certificate"] + created["cas"])
        key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        ssl_context = client_context(ca_data=ca_pem, cert_chain=str(chain), key=str(key_file))

        assert await _hello(router_url, ssl_context, token), "the router accepts the session certificate"
        # Another API session's token (the same identity's, or another identity's) does not go with it.
        assert not await _hello(router_url, ssl_context, await _login(net, "pw-user"))
        assert not await _hello(router_url, ssl_context, await _login(net, "other-user"))

        # A second certificate, deleted: routers learn of it and refuse it; the first still works.
        second_key = generate_key("ec256")
        async with net.controller.client(token=token) as own:
            resp = await own.post(f"{CLIENT}/current-api-session/certificates", json={"csr": _csr(second_key, user)})
            second = resp.json()["data"]
            (tmp_path / "second.pem").write_text(second["certificate"] + second["cas"])
            (tmp_path / "second.key").write_bytes(second_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                                           NoEncryption()))
            second_context = client_context(ca_data=ca_pem, cert_chain=str(tmp_path / "second.pem"),
                                            key=str(tmp_path / "second.key"))
            assert await _hello(router_url, second_context, token)
            assert (await own.delete(f"{CLIENT}/current-api-session/certificates/{second['id']}")).status_code == 200

            async def second_refused() -> bool:
                return not await _hello(router_url, second_context, token)

            await wait_until(second_refused, 10, what="the deleted certificate refused by the router")
            assert await _hello(router_url, ssl_context, token)
            # Logging out ends the API session: the certificate goes with it.
            assert (await own.delete(f"{CLIENT}/current-api-session")).status_code == 200
        leftover = (await net.admin.get(f"{MANAGEMENT}/summary")).json()["data"]
        assert leftover["api-session-certificates"] == 0

        async def first_refused() -> bool:
            return not await _hello(router_url, ssl_context, token)

        await wait_until(first_refused, 10, what="the certificate refused once its API session ended")


@pytest.mark.parametrize("body", [None, {"csr": 5}, {"csr": "not a CSR"}])
async def test_bad_session_certificate_requests_are_refused(controller, admin, body):
    resp = await admin.post(f"{CLIENT}/current-api-session/certificates", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "COULD_NOT_VALIDATE"
    assert (await admin.get(f"{CLIENT}/current-api-session/certificates")).json()["data"] == []
