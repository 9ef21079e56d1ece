"""A transit router (``create transit-router -o``, run without an edge listener) is the middle hop
between a dialer's router and a host's router that cannot link to each other."""

from __future__ import annotations

from mesh_net import MIB, link_between, wait_links
from test_mesh_cli import run
from test_multihop import upload

from ziti_aio.appliance.node import router_config
from ziti_aio.appliance.node_config import load_node_config
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, create
from ziti_aio.testing.network import open_network


async def test_transit_router_from_the_cli_carries_a_two_hop_transfer(tmp_path):
    async with open_network(tmp_path, routers=0) as net:
        # er1 and er3 only dial (no link listeners): the transit router is their only way to each other
        er1 = await net.add_router("er1", attributes=("ingress",), link=False)
        er3 = await net.add_router("er3", attributes=("egress",), link=False)
        await run(tmp_path, "login", net.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
        await run(tmp_path, "create", "transit-router", "t1", "-o", str(tmp_path / "t1.jwt"))
        t1 = await net.start_router("t1", (tmp_path / "t1.jwt").read_text().strip(), edge=False)
        assert t1.info.edge_address == "" and t1.info.link_address
        entity = await net.get(f"edge-routers/{t1.id}")
        assert entity["isOnline"] and entity["isVerified"] and entity["tags"] == {"transitRouter": True}

        await create(net.admin, "edge-router-policies", {"name": "dialers-er1", "identityRoles": ["#dialers"],
                                                         "edgeRouterRoles": ["#ingress"]})
        await create(net.admin, "edge-router-policies", {"name": "hosts-er3", "identityRoles": ["#hosts"],
                                                         "edgeRouterRoles": ["#egress"]})
        await net.create_service("svc")
        await net.create_identity("host", attributes=("hosts",))
        await net.create_identity("dialer", attributes=("dialers",))
        await net.allow("host", "svc", "Bind")
        await net.allow("dialer", "svc", "Dial")
        links = await wait_links(net, 2)

        want, got, [circuit] = await upload(net, 8 * MIB)
        assert got == want
        assert circuit["path"] == {"nodes": [er1.id, t1.id, er3.id],
                                   "links": [link_between(links, er1.id, t1.id)["id"],
                                             link_between(links, t1.id, er3.id)["id"]]}


def test_node_toml_router_without_edge_is_transit_only(tmp_path):
    (tmp_path / "node.toml").write_text(f'home = "{tmp_path}"\n[[router]]\nname = "t1"\nlink = "10.0.0.2:4022"\n'
                                        '[[router]]\nname = "er1"\nedge = "10.0.0.3:3022"\n')
    transit, edge = (router_config(s, tmp_path / s.name) for s in load_node_config(tmp_path / "node.toml").routers)
    assert transit.edge_port is None and (transit.link_bind_host, transit.link_port) == ("10.0.0.2", 4022)
    assert transit.link_advertised_host == "10.0.0.2"
    assert edge.edge_port == 3022 and edge.link_port is None


def test_wildcard_binds_advertise_the_host_name(tmp_path):
    import socket

    (tmp_path / "node.toml").write_text(
        f'home = "{tmp_path}"\n[[router]]\nname = "w"\nedge = "0.0.0.0:3022"\nlink = "0.0.0.0:4022"\n')
    (section,) = load_node_config(tmp_path / "node.toml").routers
    cfg = router_config(section, tmp_path / "w")
    assert cfg.edge_bind_host == "0.0.0.0" and cfg.link_bind_host == "0.0.0.0"
    assert cfg.advertised_host == cfg.link_advertised_host == socket.gethostname()
