"""Edge Client API reads a current libziti (1.x) makes that 0.29.3 did not (docs/sdk-1x.md)."""

from ziti_aio.testing.controller import CLIENT, create
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until


async def test_a_service_lists_the_routers_the_caller_may_use_for_it(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        admin, router = net.admin, net.routers[0]
        service = await net.create_service("svc")
        hidden = await net.create_service("hidden")
        await create(admin, "service-policies", {"name": "svc-dial", "type": "Dial", "identityRoles": ["#all"],
                                                 "serviceRoles": [f"@{service}"]})

        async def online_routers() -> list:
            resp = await admin.get(f"{CLIENT}/services/{service}/edge-routers")
            assert resp.status_code == 200, resp.text
            return [r for r in resp.json()["data"]["edgeRouters"] if r["isOnline"]]

        routers = await wait_until(online_routers, 20, what="the online router listed for the service")
        assert [r["name"] for r in routers] == [router.name]
        assert routers[0]["supportedProtocols"]["tls"].startswith("tls://")

        denied = await admin.get(f"{CLIENT}/services/{hidden}/edge-routers")
        assert denied.status_code == 404, "a service the caller may not use is not there"
        missing = await admin.get(f"{CLIENT}/services/nosuch/edge-routers")
        assert missing.status_code == 404

        await admin.patch(f"/edge/management/v1/edge-routers/{router.id}", json={"disabled": True})
        emptied = await admin.get(f"{CLIENT}/services/{service}/edge-routers")
        assert emptied.json()["data"]["edgeRouters"] == [], "a disabled router is not offered"


async def test_external_jwt_signers_are_listed_before_login(tmp_path):
    async with open_network(tmp_path, routers=0) as net:
        async with net.controller.client() as anonymous:
            resp = await anonymous.get(f"{CLIENT}/external-jwt-signers")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["data"] == []
        assert body["meta"]["pagination"]["totalCount"] == 0
