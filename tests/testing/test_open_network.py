"""The public harness: open_network starts and stops cleanly; the fixture works for other projects."""

import pytest

import ziti_aio.testing

pytest_plugins = ["ziti_aio.testing.pytest_plugin"]


async def test_open_network_without_a_home_cleans_up():
    async with ziti_aio.testing.open_network(routers=1) as net:
        home = net.home
        routers = await net.get("edge-routers")
        assert [r["isOnline"] for r in routers] == [True]
        assert home.exists()
    assert not home.exists()


async def test_tunneler_is_refused_until_it_exists():
    with pytest.raises(NotImplementedError):
        async with ziti_aio.testing.open_network(tunneler=True):
            pass


async def test_fixture_gives_a_working_network(ziti_network):
    ident = await ziti_network.create_identity("fixture-user")
    assert ident.path.exists()
    services = await ziti_network.get("services")
    assert services == []
