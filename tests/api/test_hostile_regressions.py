"""Regressions for hostile requests the sweep and probes found; each is a plain httpx request."""

from __future__ import annotations

from ziti_aio.testing.controller import MANAGEMENT

JSON_HEADERS = {"content-type": "application/json"}


async def test_deeply_nested_body_is_a_validation_error(admin):
    nested = "[" * 100_000 + "]" * 100_000
    resp = await admin.post(f"{MANAGEMENT}/identities", content='{"name":"deep","appData":{"a":%s}}' % nested,
                            headers=JSON_HEADERS)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "COULD_NOT_VALIDATE"


async def test_nan_and_infinity_are_refused_and_never_stored(admin):
    for constant in ("NaN", "Infinity", "-Infinity", "1e400"):
        resp = await admin.post(f"{MANAGEMENT}/identities", content='{"name":"n","tags":{"a":%s}}' % constant,
                                headers=JSON_HEADERS)
        assert resp.status_code == 400, resp.text
    listing = await admin.get(f"{MANAGEMENT}/identities")
    assert "NaN" not in listing.text and "Infinity" not in listing.text
