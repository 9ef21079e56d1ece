"""``ziti-aio status``: a one-screen summary of a running network, as text and as JSON."""

import json

import pytest
from test_cli_imports import invoking, loaded_after

from ziti_aio import __version__
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME


@pytest.fixture
async def net(tmp_path):
    async with open_network(tmp_path / "net", routers=2) as network:
        yield network


async def test_status_summarizes_the_network(cli, net):
    await cli("login", net.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    await net.create_service("summarized")
    await net.create_identity("someone")
    identities = len(await net.get("identities?limit=-1"))
    await wait_until(lambda: _links(net), 10)

    result = await cli("status")
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["controller"] == f"{net.controller.url} (v{__version__})"
    assert lines["health"] == "healthy"
    assert lines["routers"] == "2/2 online: er1, er2"
    assert lines["links"] == "1"
    assert lines["circuits"] == "0"
    assert lines["identities"] == str(identities)
    assert lines["services"] == "1"
    assert lines["alerts"] == "none recent"
    assert len(result.output.splitlines()) == 8

    summary = json.loads((await cli("status", "-j")).output)
    assert summary["health"]["healthy"] is True
    checks = {c["id"] for c in summary["health"]["checks"]}
    # raft.leader: every controller is a Raft cluster, of one here (docs/ha.md "A cluster of one")
    assert checks == {"store.read", "routers.connected", "controller.certificate", "raft.leader"}
    assert summary["routers"]["online"] == 2 and summary["routers"]["total"] == 2
    assert [r["name"] for r in summary["routers"]["list"]] == ["er1", "er2"]
    assert (summary["links"], summary["circuits"], summary["services"]) == (1, 0, 1)
    assert summary["alerts"] == []


async def test_status_shows_the_recent_alerts(cli, tmp_path):
    # every router certificate "expires soon": each router raises an alert when it connects
    async with open_network(tmp_path / "alerting", routers=2, alert_cert_days=100_000) as alerting:
        await cli("login", alerting.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")

        async def two_alerts():
            return len((await alerting.admin.get("/edge/management/v1/alerts")).json()["data"]) == 2

        await wait_until(two_alerts, 10)
        lines = (await cli("status")).output.splitlines()
        at = next(n for n, line in enumerate(lines) if line.startswith("alerts"))
        assert lines[at].split(None, 1)[1] == "2 recent"
        shown = lines[at + 1:]
        assert len(shown) == 2 and all(line.startswith("  ") and " warning: the certificate of router " in line
                                       for line in shown)
        assert {r.id for r in alerting.routers} == {line.split("router ")[1].split()[0] for line in shown}

        summary = json.loads((await cli("status", "-j")).output)
        assert [a["alert_source_type"] for a in summary["alerts"]] == ["router", "router"]
        assert summary["alerts"][0]["timestamp"] >= summary["alerts"][1]["timestamp"]


async def test_status_shows_offline_routers_and_failing_checks(cli, net):
    await cli("login", net.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    for router in net.routers:
        router.stop()

    async def all_offline():
        routers = await net.get("edge-routers")
        return not any(r["isOnline"] for r in routers)

    await wait_until(all_offline, 10)
    result = await cli("status")
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["health"] == "UNHEALTHY: routers.connected: no enabled edge router is online"
    assert lines["routers"] == "0/2 online: er1 (offline), er2 (offline)"
    assert lines["links"] == "0"


async def test_status_needs_a_login(cli):
    result = await cli("status", code=1)
    assert "not logged in" in result.output


def test_status_loads_no_role(tmp_path):
    assert loaded_after(invoking("status", exit_code=1), {"ZITI_AIO_CONFIG_DIR": str(tmp_path)}) == []


async def _links(net):
    return len(await net.get("links")) == 1
