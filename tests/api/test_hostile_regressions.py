"""Regressions for hostile requests the sweep and probes found; each is a plain httpx request."""

from __future__ import annotations

from ziti_aio.testing.controller import MANAGEMENT, create

JSON_HEADERS = {"content-type": "application/json"}


async def test_deeply_nested_body_is_a_validation_error(admin):
    nested = "[" * 100_000 + "]" * 100_000
    resp = await admin.post(f"{MANAGEMENT}/identities", content=f'{{"name":"deep","appData":{{"a":{nested}}}}}',
                            headers=JSON_HEADERS)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "COULD_NOT_VALIDATE"


async def test_nan_and_infinity_are_refused_and_never_stored(admin):
    for constant in ("NaN", "Infinity", "-Infinity", "1e400"):
        resp = await admin.post(f"{MANAGEMENT}/identities", content=f'{{"name":"n","tags":{{"a":{constant}}}}}',
                                headers=JSON_HEADERS)
        assert resp.status_code == 400, resp.text
    listing = await admin.get(f"{MANAGEMENT}/identities")
    assert "NaN" not in listing.text and "Infinity" not in listing.text


async def test_expiry_at_the_ends_of_the_calendar(admin):
    identity = await create(admin, "identities", {"name": "expiry", "type": "Device", "enrollment": {"ott": True}})
    listed = await admin.get(f"{MANAGEMENT}/enrollments", params={"filter": f'identityId="{identity}"'})
    refresh = f"{MANAGEMENT}/enrollments/{listed.json()['data'][0]['id']}/refresh"
    body = {"method": "updb", "identityId": identity, "username": "expiry"}
    for expires in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        resp = await admin.post(f"{MANAGEMENT}/enrollments", json={**body, "expiresAt": expires})
        assert resp.status_code == 400, resp.text
        resp = await admin.post(refresh, json={"expiresAt": expires})
        assert resp.status_code == 400, resp.text
    resp = await admin.post(f"{MANAGEMENT}/enrollments", json={**body, "expiresAt": "0001-01-01T00:00:00Z"})
    assert resp.status_code == 201, resp.text
    resp = await admin.post(refresh, json={"expiresAt": "0001-01-01T00:00:00Z"})
    assert resp.status_code == 200, resp.text
    resp = await admin.get(f"{MANAGEMENT}/enrollments/{listed.json()['data'][0]['id']}")
    assert resp.json()["data"]["expiresAt"] == "0001-01-01T00:00:00.000000Z"


async def test_refusal_before_the_body_is_read_still_answers_with_an_envelope(controller, admin):
    """A request refused by routing, carrying a large body, gets the JSON 404 envelope."""
    import socket

    import trio

    token = admin.headers["zt-session"]
    body = b'{"name": "' + b"x" * 600_000 + b'"}'

    def patch_weird_path() -> bytes:
        raw = socket.create_connection(("127.0.0.1", controller.info.port))
        with controller.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"PATCH /edge/management/v1/service-policies/%F3%96%A2%95%C2%8A/x/y HTTP/1.1\r\n"
                        f"Host: x\r\nzt-session: {token}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode())
            tls.sendall(body)
            tls.settimeout(10)
            data = b""
            while b'"error"' not in data and (chunk := tls.recv(65536)):
                data += chunk
            return data

    answer = await trio.to_thread.run_sync(patch_weird_path)
    assert answer.startswith(b"HTTP/1.1 404")
    assert b'"NOT_FOUND"' in answer
