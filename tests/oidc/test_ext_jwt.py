"""``/oidc/login/ext-jwt``: an external identity provider's JWT logs in through the OIDC flow, checked as
``POST /authenticate?method=ext-jwt`` checks it; a refused token issues nothing."""

from __future__ import annotations

from ziti_aio.testing import open_network
from ziti_aio.testing.controller import CLIENT, create
from ziti_aio.testing.idp import open_idp

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
