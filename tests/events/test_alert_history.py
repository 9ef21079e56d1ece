"""The controller's recent alerts: kept in memory (bounded, newest first) and served to admins at
``GET /edge/management/v1/alerts`` (docs/operations.md)."""

from __future__ import annotations

from ziti_aio.controller.events.alert_history import AlertHistory
from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.types import AlertEvent, CircuitEvent, circuit_body
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network


def alert(n: int) -> AlertEvent:
    return AlertEvent(alert_source_type="service", alert_source_id=f"s{n}", severity="error", message=f"alert {n}")


def test_the_bus_keeps_the_newest_alerts_without_any_subscriber():
    bus = EventBus("ctrl", alerts=AlertHistory(kept=3))
    assert bus.wants("alert") and not bus.wants("circuit")
    for n in range(5):
        bus.publish(alert(n))
    bus.publish(CircuitEvent("created", circuit_body("c", "i", "s")))
    recent = bus.alerts.recent()
    assert [a["alert_source_id"] for a in recent] == ["s4", "s3", "s2"]
    assert recent[0]["namespace"] == "alert" and recent[0]["event_src_id"] == "ctrl"
    assert [a["alert_source_id"] for a in bus.alerts.recent(1)] == ["s4"]
    assert len(bus.alerts) == 3


def test_a_subscribers_lost_events_alert_is_kept():
    bus = EventBus("ctrl")
    sub = bus.subscribe("slow", ["circuit"], size=2)
    for n in range(3):  # the third is dropped
        bus.publish(CircuitEvent("created", circuit_body(f"c{n}", "i", "s")))
    assert bus.alerts.recent() == []
    sub.receive_nowait()
    sub.receive_nowait()
    bus.publish(CircuitEvent("created", circuit_body("c3", "i", "s")))
    [kept] = bus.alerts.recent()
    assert kept["alert_source_type"] == "eventSubscriber" and kept["alert_source_id"] == "slow"
    assert "dropped=1" in kept["details"]


async def test_admins_read_the_recent_alerts(tmp_path):
    # every router certificate "expires soon": each router raises an alert when it connects
    async with open_network(tmp_path, routers=2, alert_cert_days=100_000) as net:
        routers = {r.id for r in net.routers}

        async def alerts(**params):
            response = await net.admin.get("/edge/management/v1/alerts", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        async def both_routers_alerted():
            body = await alerts()
            return body if len(body["data"]) == 2 else None

        body = await wait_until(both_routers_alerted, 10)
        assert {a["alert_source_id"] for a in body["data"]} == routers
        assert all(a["namespace"] == "alert" and a["alert_source_type"] == "router" for a in body["data"])
        assert body["data"][0]["timestamp"] >= body["data"][1]["timestamp"]  # newest first
        assert body["meta"]["pagination"]["totalCount"] == 2
        one = await alerts(limit=1)
        assert one["data"] == body["data"][:1] and one["meta"]["pagination"]["totalCount"] == 2

        for bad in ("0", "-1", "many"):
            response = await net.admin.get("/edge/management/v1/alerts", params={"limit": bad})
            assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_PAGINATION"

        async with net.controller.client() as anonymous:
            assert (await anonymous.get("/edge/management/v1/alerts")).status_code == 401
        token = await _device_token(net)
        async with net.controller.client() as device:
            refused = await device.get("/edge/management/v1/alerts", headers={"zt-session": token})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"


async def _device_token(net) -> str:
    await net.create_identity("plain")
    identity = load_identity(net.identities["plain"].path)
    cert, key = net.home / "plain.cert", net.home / "plain.key"
    cert.write_text(identity.cert_pem)
    key.write_text(identity.key_pem)
    async with net.controller.client(cert=str(cert), key=str(key)) as device:
        login = await device.post("/edge/client/v1/authenticate?method=cert", json={})
    return login.headers["zt-session"]
