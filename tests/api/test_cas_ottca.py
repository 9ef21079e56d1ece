"""Third-party CAs: create, verify (proof of possession), ottca enrollment and cert login."""

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ziti_aio.pki.ca import CertAuthority
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create, open_controller

M = MANAGEMENT


def _pem(cert):
    return cert.public_bytes(Encoding.PEM).decode()


def _client_files(tmp_path, ca, name):
    cert, key = ca.issue_client(name)
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_text(_pem(cert))
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return str(cert_path), str(key_path)


def _ca_body(ca, name="third-party", **flags):
    return {"name": name, "certPem": _pem(ca.cert), "isAuthEnabled": True, "isAutoCaEnrollmentEnabled": False,
            "isOttCaEnrollmentEnabled": True, "identityRoles": ["from-ca"], **flags}


async def _verify(admin, ca_id, cert):
    return await admin.post(f"{M}/cas/{ca_id}/verify", content=_pem(cert), headers={"content-type": "text/plain"})


async def _verified_ca(admin, ca, name="third-party"):
    ca_id = await create(admin, "cas", _ca_body(ca, name))
    token = (await admin.get(f"{M}/cas/{ca_id}")).json()["data"]["verificationToken"]
    resp = await _verify(admin, ca_id, ca.issue_client(token)[0])
    assert resp.status_code == 200, resp.text
    return ca_id


async def test_ca_create_renders_fingerprint_and_unverified_token(admin):
    ca = CertAuthority.create_root("third-party root")
    ca_id = await create(admin, "cas", _ca_body(ca))
    detail = (await admin.get(f"{M}/cas/{ca_id}")).json()["data"]
    assert detail["isVerified"] is False
    assert len(detail["fingerprint"]) == 40 and detail["verificationToken"]
    assert detail["identityNameFormat"] == "[caName]-[commonName]"
    listed = (await admin.get(f"{M}/cas", params={"filter": "isVerified=false"})).json()["data"]
    assert [c["id"] for c in listed] == [ca_id]
    resp = await admin.patch(f"{M}/cas/{ca_id}", json={"isAuthEnabled": False})
    assert resp.status_code == 200
    after = (await admin.get(f"{M}/cas/{ca_id}")).json()["data"]
    assert after["isAuthEnabled"] is False and after["verificationToken"] == detail["verificationToken"]


@pytest.mark.parametrize("change", [
    {"certPem": "not a pem"},
    {"isAuthEnabled": None},
    {"identityRoles": None},
])
async def test_ca_create_refuses_bad_bodies(admin, change):
    body = {k: v for k, v in {**_ca_body(CertAuthority.create_root("r")), **change}.items() if v is not None}
    resp = await admin.post(f"{M}/cas", json=body)
    assert resp.status_code == 400, resp.text
    assert (await admin.get(f"{M}/cas")).json()["data"] == []


async def test_ca_create_refuses_leaf_and_duplicate_certs(admin):
    ca = CertAuthority.create_root("r")
    leaf, _ = ca.issue_client("leaf")
    assert (await admin.post(f"{M}/cas", json={**_ca_body(ca), "certPem": _pem(leaf)})).status_code == 400
    await create(admin, "cas", _ca_body(ca))
    assert (await admin.post(f"{M}/cas", json=_ca_body(ca, "again"))).status_code == 400


async def test_verify_refuses_wrong_cn_wrong_signer_and_garbage(admin):
    ca, other = CertAuthority.create_root("r"), CertAuthority.create_root("other")
    ca_id = await create(admin, "cas", _ca_body(ca))
    token = (await admin.get(f"{M}/cas/{ca_id}")).json()["data"]["verificationToken"]
    for cert in (ca.issue_client("not-the-token")[0], other.issue_client(token)[0]):
        assert (await _verify(admin, ca_id, cert)).status_code == 400
    bad = await admin.post(f"{M}/cas/{ca_id}/verify", content="garbage", headers={"content-type": "text/plain"})
    assert bad.status_code == 400
    assert (await admin.get(f"{M}/cas/{ca_id}")).json()["data"]["isVerified"] is False
    assert (await _verify(admin, ca_id, ca.issue_client(token)[0])).status_code == 200
    assert (await admin.get(f"{M}/cas/{ca_id}")).json()["data"]["isVerified"] is True
    assert (await _verify(admin, "nope", ca.issue_client(token)[0])).status_code == 404


async def test_ottca_needs_a_verified_ca_that_allows_it(admin):
    ca = CertAuthority.create_root("r")
    ca_id = await create(admin, "cas", _ca_body(ca))
    body = {"name": "dev", "type": "Device", "isAdmin": False, "enrollment": {"ottca": ca_id}}
    assert (await admin.post(f"{M}/identities", json=body)).status_code == 400
    assert (await admin.post(f"{M}/identities", json={**body, "enrollment": {"ottca": "missing"}})).status_code == 400
    other = CertAuthority.create_root("other")
    no_ott = await _verified_ca(admin, other, "no-ott")
    await admin.patch(f"{M}/cas/{no_ott}", json={"isOttCaEnrollmentEnabled": False})
    assert (await admin.post(f"{M}/identities", json={**body, "enrollment": {"ottca": no_ott}})).status_code == 400
    assert (await admin.get(f"{M}/identities", params={"filter": 'name="dev"'})).json()["data"] == []


async def test_ottca_enrollment_binds_the_client_cert_and_allows_cert_login(controller, admin, tmp_path):
    ca, other = CertAuthority.create_root("r"), CertAuthority.create_root("other")
    ca_id = await _verified_ca(admin, ca)
    await _verified_ca(admin, other, "other")
    ident = await create(admin, "identities", {"name": "dev", "type": "Device", "isAdmin": False,
                                               "enrollment": {"ottca": ca_id}})
    pending = (await admin.get(f"{M}/identities/{ident}")).json()["data"]["enrollment"]["ottca"]
    assert pending["caId"] == ca_id and pending["ca"]["id"] == ca_id
    token = pending["token"]
    cert, key = _client_files(tmp_path, ca, "dev")
    wrong_cert, wrong_key = _client_files(tmp_path, other, "intruder")

    async with controller.client() as anon:
        assert (await anon.post(f"/enroll?method=ottca&token={token}")).status_code == 400
    async with controller.client(cert=wrong_cert, key=wrong_key) as wrong:
        assert (await wrong.post(f"/enroll?method=ottca&token={token}")).status_code == 400
    assert (await admin.get(f"{M}/identities/{ident}")).json()["data"]["authenticators"] == {}

    async with controller.client(cert=cert, key=key) as device:
        resp = await device.post(f"/enroll?method=ottca&token={token}", json={})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"data": {}, "meta": {}}
        assert (await device.post(f"/enroll?method=ottca&token={token}")).status_code == 400
        login = await device.post(f"{CLIENT}/authenticate?method=cert", json={})
        assert login.status_code == 200, login.text
        assert login.json()["data"]["identity"]["id"] == ident
    detail = (await admin.get(f"{M}/identities/{ident}")).json()["data"]
    assert detail["enrollment"] == {} and "cert" in detail["authenticators"]
    auth = (await admin.get(f"{M}/authenticators/{detail['authenticators']['cert']['id']}")).json()["data"]
    assert auth["isIssuedByNetwork"] is False and "BEGIN CERTIFICATE" in auth["certPem"]

    await admin.patch(f"{M}/cas/{ca_id}", json={"isAuthEnabled": False})
    async with controller.client(cert=cert, key=key) as device:
        assert (await device.post(f"{CLIENT}/authenticate?method=cert", json={})).status_code == 401


async def test_unverified_ca_client_certs_are_refused_by_tls(controller, admin, tmp_path):
    ca = CertAuthority.create_root("r")
    await create(admin, "cas", _ca_body(ca))
    cert, key = _client_files(tmp_path, ca, "dev")
    async with controller.client(cert=cert, key=key) as device:
        with pytest.raises(httpx.HTTPError):
            await device.post(f"{CLIENT}/authenticate?method=cert", json={})


async def test_verified_ca_is_trusted_after_restart(tmp_path):
    ca = CertAuthority.create_root("r")
    home = tmp_path / "ctrl"
    async with open_controller(home) as running, await running.login() as admin:
        ca_id = await _verified_ca(admin, ca)
        ident = await create(admin, "identities", {"name": "dev", "type": "Device", "isAdmin": False,
                                                   "enrollment": {"ottca": ca_id}})
        token = (await admin.get(f"{M}/identities/{ident}")).json()["data"]["enrollment"]["ottca"]["token"]
    cert, key = _client_files(tmp_path, ca, "dev")
    async with open_controller(home) as running, running.client(cert=cert, key=key) as device:
        assert (await device.post(f"/enroll?method=ottca&token={token}")).status_code == 200
