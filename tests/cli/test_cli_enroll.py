"""``ziti-aio enroll``: trust bootstrapped from the JWT, an identity file as libziti 0.29.3 writes it."""

import json
import stat

import jwt

from ziti_aio.pki.bundle import load_certs_pem
from ziti_aio.pki.enrollment_jwt import read_enrollment_jwt
from ziti_aio.pki.keys import generate_key
from ziti_aio.testing.controller import CLIENT, MANAGEMENT


async def test_enrolled_identity_authenticates_with_its_cert(logged_in, controller, tmp_path):
    jwt_path = tmp_path / "client.jwt"
    await logged_in("create", "identity", "client", "-o", str(jwt_path))

    result = await logged_in("enroll", str(jwt_path), "--rm")

    identity_path = tmp_path / "client.json"
    assert str(identity_path) in result.output
    assert not jwt_path.exists()
    assert stat.S_IMODE(identity_path.stat().st_mode) == 0o600
    identity = json.loads(identity_path.read_text())
    assert set(identity) == {"ztAPI", "id"} and set(identity["id"]) == {"cert", "key", "ca"}
    assert identity["ztAPI"] == controller.url
    assert identity["id"]["key"].startswith("-----BEGIN EC PRIVATE KEY-----")
    assert identity["id"]["cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert len(load_certs_pem(identity["id"]["ca"])) == len(load_certs_pem(controller.info.ca_bundle_path.read_bytes()))
    cert_file, key_file = tmp_path / "client.cert", tmp_path / "client.key"
    cert_file.write_text(identity["id"]["cert"])
    key_file.write_text(identity["id"]["key"])
    async with controller.client(cert=str(cert_file), key=str(key_file)) as c:
        resp = await c.post(f"{CLIENT}/authenticate?method=cert", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["identity"]["name"] == "client"


async def test_second_enroll_with_the_same_jwt_fails_cleanly(logged_in, tmp_path):
    jwt_path = tmp_path / "once.jwt"
    await logged_in("create", "identity", "once", "-o", str(jwt_path))
    await logged_in("enroll", str(jwt_path), "-o", str(tmp_path / "first.json"))

    result = await logged_in("enroll", str(jwt_path), "-o", str(tmp_path / "second.json"), code=1)

    assert result.stderr.startswith("error: INVALID_ENROLLMENT_TOKEN: ")
    assert not (tmp_path / "second.json").exists()
    result = await logged_in("enroll", str(jwt_path), "-o", str(tmp_path / "first.json"), code=1)
    assert "already exists" in result.stderr


async def test_a_jwt_not_signed_by_the_server_is_refused(logged_in, admin, tmp_path):
    real_path = tmp_path / "victim.jwt"
    await logged_in("create", "identity", "victim", "-o", str(real_path))
    claims = read_enrollment_jwt(real_path.read_text())
    forged_path = tmp_path / "forged.jwt"
    forged_path.write_text(jwt.encode(claims, generate_key("rsa2048"), algorithm="RS256"))

    result = await logged_in("enroll", str(forged_path), code=1)

    assert result.stderr.startswith("error: refusing to enroll: the token is not signed by the server at ")
    assert not (tmp_path / "forged.json").exists()
    victim = (await admin.get(f"{MANAGEMENT}/identities", params={"filter": 'name="victim"'})).json()["data"][0]
    assert victim["enrollment"]["ott"]["jwt"] == real_path.read_text()


async def test_updb_enrollment_sets_the_password(logged_in, controller, tmp_path):
    jwt_path = tmp_path / "user.jwt"
    await logged_in("create", "identity", "user", "--updb", "user-name", "-o", str(jwt_path))

    await logged_in("enroll", str(jwt_path), "-p", "user-password-1")

    async with controller.client() as anon:
        resp = await anon.post(f"{MANAGEMENT}/authenticate?method=password",
                               json={"username": "user-name", "password": "user-password-1"})
    assert resp.status_code == 200, resp.text
    assert not (tmp_path / "user.json").exists()


async def test_unsupported_or_broken_tokens(logged_in, tmp_path):
    other = tmp_path / "router.jwt"
    await logged_in("create", "edge-router", "r1", "-o", str(other))
    result = await logged_in("enroll", str(other), code=1)
    assert "enrollment method 'erott' is not supported here" in result.stderr
    garbage = tmp_path / "garbage.jwt"
    garbage.write_text("not a jwt")
    result = await logged_in("enroll", str(garbage), code=1)
    assert result.stderr.startswith("error: INVALID_ENROLLMENT_TOKEN: ")
    result = await logged_in("enroll", str(tmp_path / "missing.jwt"), code=1)
    assert result.stderr.startswith("error: ") and "missing.jwt" in result.stderr
