"""Operations endpoints: /health-checks (anyone, 200 or 503 with per-check details) and /metrics
(admins only, Prometheus text read back with prometheus_client's own parser)."""

from __future__ import annotations

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, create


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(net) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await net.admin.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return samples(resp.text)


@pytest.fixture
async def net(tmp_path):
    async with open_network(tmp_path) as network:
        yield network


async def test_health_checks_report_the_store_and_the_routers(net):
    async with net.controller.client() as anon:
        for path in ("/health-checks", "/health-checks/v1"):
            resp = await anon.get(path)
            assert resp.status_code == 200, resp.text
            data = resp.json()["data"]
            assert data["healthy"] is True
            checks = {c["id"]: c for c in data["checks"]}
            # raft.leader: every controller is a Raft cluster, of one here (docs/ha.md)
            assert set(checks) == {"store.read", "routers.connected", "controller.certificate", "raft.leader"}
            assert checks["raft.leader"]["healthy"] and checks["raft.leader"]["details"]["isLeader"] is True
            assert checks["controller.certificate"]["healthy"] is True
            assert checks["controller.certificate"]["details"]["daysLeft"] > 300
            assert checks["store.read"]["healthy"] and checks["store.read"]["details"]["entities"] > 0
            assert checks["routers.connected"]["details"] == {"online": 1, "enabled": 1}
            assert checks["store.read"]["lastCheckTime"].endswith("Z")
            assert checks["store.read"]["lastCheckDuration"].endswith("ms")

        net.routers[0].stop()

        async def unhealthy():
            resp = await anon.get("/health-checks")
            return resp if resp.status_code == 503 else None

        resp = await wait_until(unhealthy, 10)
        data = resp.json()["data"]
        checks = {c["id"]: c for c in data["checks"]}
        assert data["healthy"] is False
        assert checks["routers.connected"] == {**checks["routers.connected"], "healthy": False,
                                               "details": {"online": 0, "enabled": 1},
                                               "err": "no enabled edge router is online"}
        assert checks["store.read"]["healthy"] is True and "err" not in checks["store.read"]
        short = (await anon.get("/health-checks?type=short")).json()["data"]
        assert short == {"healthy": False, "checks": [{"id": "store.read", "healthy": True},
                                                      {"id": "routers.connected", "healthy": False},
                                                      {"id": "controller.certificate", "healthy": True},
                                                      {"id": "raft.leader", "healthy": True}]}


async def test_health_check_reads_the_store_file(net):
    store = net.controller.controller.model.store
    store.close()  # every later read of the file fails, as with a broken disk
    async with net.controller.client() as anon:
        resp = await anon.get("/health-checks")
    assert resp.status_code == 503
    checks = {c["id"]: c for c in resp.json()["data"]["checks"]}
    assert checks["store.read"]["healthy"] is False
    assert checks["store.read"]["err"].startswith("reading the store failed")


async def test_metrics_are_for_admins_only(net):
    async with net.controller.client() as anon:
        assert (await anon.get("/metrics")).status_code == 401
    await net.create_identity("plain")
    identity = load_identity(net.identities["plain"].path)
    cert, key = net.home / "plain.cert", net.home / "plain.key"
    cert.write_text(identity.cert_pem)
    key.write_text(identity.key_pem)
    async with net.controller.client(cert=str(cert), key=str(key)) as device:
        assert (await device.get("/metrics")).status_code == 401
        login = await device.post("/edge/client/v1/authenticate?method=cert", json={})
        token = login.headers["zt-session"]
        resp = await device.get("/metrics", headers={"zt-session": token})
        assert resp.status_code == 401
    # an admin identity's client certificate is enough: what a Prometheus scrape config holds
    admin_id = await create(net.admin, "identities", {"name": "scraper", "type": "Device", "isAdmin": True,
                                                      "enrollment": {"ott": True}})
    jwt = (await net.get(f"identities/{admin_id}"))["enrollment"]["ott"]["jwt"]
    await enroll_identity(jwt, net.home / "scraper.json")
    scraper = load_identity(net.home / "scraper.json")
    cert.write_text(scraper.cert_pem)
    key.write_text(scraper.key_pem)
    async with net.controller.client(cert=str(cert), key=str(key)) as prometheus:
        resp = await prometheus.get("/metrics")
    assert resp.status_code == 200
    assert ("ziti_routers_online", ()) in samples(resp.text)


async def test_metrics_count_requests_and_logins_without_secrets(net):
    identity = await net.create_identity("metered")
    before = await scrape(net)
    async with net.controller.client() as anon:
        bad = await anon.post("/edge/management/v1/authenticate?method=password",
                              json={"username": "admin", "password": "wrong-secret"})
        assert bad.status_code == 401
        good = await anon.post("/edge/management/v1/authenticate?method=password",
                               json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
        assert good.status_code == 200
        token = good.headers["zt-session"]
        await anon.post("/edge/client/v1/authenticate?method=bogus-method", json={})
        assert (await anon.request("BOGUSVERB", "/edge/no-such-path-secret")).status_code == 404
    assert (await net.admin.get(f"/edge/management/v1/identities/{identity.id}")).status_code == 200
    text = (await net.admin.get("/metrics")).text
    after = samples(text)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("ziti_logins_total", method="password", outcome="failure") == 1
    assert delta("ziti_logins_total", method="password", outcome="success") == 1
    assert delta("ziti_logins_total", method="other", outcome="failure") == 1
    assert delta("ziti_api_requests_total", method="GET", route="/edge/management/v1/identities/<ident>",
                 status="200") == 1
    route = (("route", "/edge/management/v1/identities/<ident>"),)
    assert after[("ziti_api_request_duration_seconds_count", route)] >= 1
    assert after[("ziti_api_sessions_active", ())] >= before[("ziti_api_sessions_active", ())] + 1
    assert after[("ziti_routers_online", ())] == 1 and after[("ziti_routers_enabled", ())] == 1
    assert delta("ziti_api_requests_total", method="other", route="unmatched", status="404") == 1
    for secret in ("wrong-secret", token, identity.id, "bogus-method", "BOGUSVERB", "no-such-path-secret"):
        assert secret not in text


async def test_metrics_follow_circuits(net):
    await net.create_service("metered", encryption_required=True)
    await net.create_identity("host")
    await net.create_identity("dialer")
    await net.allow("host", "metered", "Bind")
    await net.allow("dialer", "metered", "Dial")
    before = await scrape(net)
    async with net.context("host") as host, net.context("dialer") as dialer:
        # no terminator yet: the dial fails and is counted by its error code
        with pytest.raises(Exception, match="terminator"):
            await dialer.dial("metered")
        listener = await host.bind("metered")
        accepted = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: _accept(listener, accepted))
            stream = await dialer.dial("metered")
        during = await scrape(net)
        assert during[("ziti_circuits_active", ())] == 1
        assert during[("ziti_circuits_created_total", ())] == before.get(("ziti_circuits_created_total", ()), 0) + 1
        assert during[("ziti_circuits_failed_total", (("code", "NO_TERMINATORS"),))] == 1
        assert during[("ziti_circuit_setup_duration_seconds_count", ())] >= 1
        assert during[("ziti_terminators", ())] == 1
        await stream.aclose()
        await accepted[0].aclose()

        async def closed():
            return (await scrape(net))[("ziti_circuits_active", ())] == 0

        await wait_until(closed, 10)


async def _accept(listener, accepted) -> None:
    accepted.append(await listener.accept())
