"""What the Management API's extra operations do: controller settings, authenticator re-enroll, certificate
extension (request-extend, extend, extend-verify), identity tracing, administrators' revocations,
identity types and the summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import generate_key
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create
from ziti_aio.testing.network import open_network

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "actions-user-password"


async def test_controller_settings_are_stored_and_merged(controller, admin):
    ctrl_id = (await admin.get(f"{MANAGEMENT}/controllers")).json()["data"][0]["id"]
    base = f"{MANAGEMENT}/controller-settings"
    resp = await admin.patch(f"{base}/global/effective", json={"oidc": {"redirectUris": ["https://app.example/cb"]}})
    assert resp.status_code == 200, resp.text
    resp = await admin.post(base, json={"controllerId": ctrl_id, "oidc": {"postLogoutUris": ["https://app.example/"]}})
    assert resp.status_code == 201, resp.text
    effective = (await admin.get(f"{base}/{ctrl_id}/effective")).json()["data"]
    assert effective["effective"]["oidc"] == {"redirectUris": ["https://app.example/cb"],
                                              "postLogoutUris": ["https://app.example/"]}
    assert effective["instance"]["oidc"] == {"postLogoutUris": ["https://app.example/"]}
    assert sorted(s["id"] for s in (await admin.get(base)).json()["data"]) == sorted(["global", ctrl_id])
    # Bad input changes nothing: a relative URI, an unknown controller, a second create, deleting global.
    bad = [await admin.patch(f"{base}/global/effective", json={"oidc": {"redirectUris": ["/relative"]}}),
           await admin.patch(f"{base}/not-a-controller/effective", json={"oidc": {}}),
           await admin.post(base, json={"controllerId": ctrl_id}),
           await admin.delete(f"{base}/global/effective")]
    assert [r.status_code for r in bad] == [400, 404, 400, 409], [r.text for r in bad]
    assert (await admin.get(f"{base}/global")).json()["data"]["oidc"] == {"redirectUris": ["https://app.example/cb"]}
    assert (await admin.delete(f"{base}/{ctrl_id}/effective")).status_code == 200
    assert (await admin.get(f"{base}/{ctrl_id}")).status_code == 404


async def test_re_enroll_replaces_a_password_authenticator_with_an_enrollment(controller, admin):
    user = await create(admin, "identities", {"name": "re-enrolled", "type": "User"})
    auth = await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "re-enrolled",
                                                  "password": PASSWORD})
    resp = await admin.post(f"{MANAGEMENT}/authenticators/{auth}/re-enroll", json={"expiresAt": "2099-01-01T00:00:00Z"})
    assert resp.status_code == 201, resp.text
    enrollment = (await admin.get(f"{MANAGEMENT}/enrollments/{resp.json()['data']['id']}")).json()["data"]
    assert (enrollment["method"], enrollment["identityId"], enrollment["username"]) == ("updb", user, "re-enrolled")
    assert (await admin.get(f"{MANAGEMENT}/authenticators/{auth}")).status_code == 404
    async with controller.client() as anon:
        login = await anon.post(f"{CLIENT}/authenticate", params={"method": "password"},
                                json={"username": "re-enrolled", "password": PASSWORD})
    assert login.status_code == 401, "the old password is gone"
    gone = await admin.post(f"{MANAGEMENT}/authenticators/{auth}/re-enroll", json={"expiresAt": "2099-01-01T00:00:00Z"})
    past = await admin.post(f"{MANAGEMENT}/authenticators/{auth}/re-enroll", json={"expiresAt": "2001-01-01T00:00:00Z"})
    assert (gone.status_code, past.status_code) == (404, 400)


async def test_a_certificate_is_extended_and_verified_before_the_old_one_stops(tmp_path: Path):
    async with open_network(tmp_path, routers=0) as net:
        alice = await net.create_identity("alice")
        identity = load_identity(alice.path)
        cert, key = tmp_path / "alice.pem", tmp_path / "alice.key"
        cert.write_text(identity.cert_pem)
        key.write_text(identity.key_pem)

        async def cert_login(cert_file: Path, key_file: Path) -> tuple[int, dict]:
            async with net.controller.client(cert=str(cert_file), key=str(key_file)) as own:
                resp = await own.post(f"{CLIENT}/authenticate", params={"method": "cert"}, json={})
            return resp.status_code, resp.json()

        auths = (await net.admin.get(f"{MANAGEMENT}/identities/{alice.id}/authenticators")).json()["data"]
        auth_id = auths[0]["id"]
        resp = await net.admin.post(f"{MANAGEMENT}/authenticators/{auth_id}/request-extend", json={"rollKeys": True})
        assert resp.status_code == 200, resp.text
        status, login = await cert_login(cert, key)
        assert status == 200
        session = login["data"]
        assert (session["isCertExtendable"], session["isCertExtendRequested"], session["isCertKeyRollRequested"]) \
            == (True, True, True)
        new_key = generate_key("ec256")
        csr = create_csr(new_key, alice.id).public_bytes(Encoding.PEM).decode()
        async with net.controller.client(token=session["token"]) as own:
            base = f"{CLIENT}/current-identity/authenticators/{auth_id}"
            wrong = await own.post(f"{base}/extend-verify", json={"clientCert": identity.cert_pem})
            assert wrong.status_code == 400, "only the certificate the extension issued verifies"
            resp = await own.post(f"{base}/extend", json={"clientCertCsr": csr})
            assert resp.status_code == 200, resp.text
            new_chain = resp.json()["data"]["clientCert"]
            assert resp.json()["data"]["ca"]
            assert (await cert_login(cert, key))[0] == 200, "the old certificate works until the new one is verified"
            resp = await own.post(f"{base}/extend-verify", json={"clientCert": new_chain})
            assert resp.status_code == 200, resp.text
        new_cert, new_key_file = tmp_path / "new.pem", tmp_path / "new.key"
        new_cert.write_text(new_chain)
        new_key_file.write_bytes(new_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        assert (await cert_login(cert, key))[0] == 401, "the old certificate is dropped"
        status, login = await cert_login(new_cert, new_key_file)
        assert status == 200 and login["data"]["isCertExtendRequested"] is False


async def test_tracing_revocations_identity_types_and_summary(tmp_path: Path):
    async with open_network(tmp_path, routers=0) as net:
        admin = net.admin
        user = await create(admin, "identities", {"name": "traced", "type": "User"})
        await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "traced",
                                               "password": PASSWORD})
        resp = await admin.put(f"{MANAGEMENT}/identities/{user}/trace", json={"enabled": True, "duration": "90s"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["enabled"] is True and resp.json()["data"]["traceId"]
        bad = await admin.put(f"{MANAGEMENT}/identities/{user}/trace", json={"enabled": True, "duration": "soon"})
        assert bad.status_code == 400
        off = await admin.put(f"{MANAGEMENT}/identities/{user}/trace", json={"enabled": False})
        assert off.json()["data"] == {"enabled": False}

        async with net.controller.client() as anon:
            login = await anon.post(f"{CLIENT}/authenticate", params={"method": "password"},
                                    json={"username": "traced", "password": PASSWORD})
        token = login.json()["data"]["token"]
        resp = await admin.post(f"{MANAGEMENT}/revocations", json={"id": user, "type": "IDENTITY"})
        assert resp.status_code == 201, resp.text
        assert (await admin.get(f"{MANAGEMENT}/revocations/{user}")).json()["data"]["type"] == "IDENTITY"
        async with net.controller.client(token=token) as own:
            assert (await own.get(f"{CLIENT}/current-identity")).status_code == 401, "its API sessions ended"
        bad = await admin.post(f"{MANAGEMENT}/revocations", json={"id": user, "type": "EVERYTHING"})
        assert bad.status_code == 400

        types = (await admin.get(f"{MANAGEMENT}/identity-types")).json()["data"]
        assert {t["id"] for t in types} >= {"Default", "Router", "User", "Device", "Service"}
        summary = (await admin.get(f"{MANAGEMENT}/summary")).json()["data"]
        assert summary["identities"] == len((await admin.get(f"{MANAGEMENT}/identities")).json()["data"])
