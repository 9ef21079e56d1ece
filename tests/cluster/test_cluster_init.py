"""``ziti-aio cluster init`` makes a fresh controller the first member of a cluster; ``cluster add`` then
adds a second member with no migration: what the first acknowledged alone reaches the second."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from ziti_aio.appliance.cluster_init import init_cluster
from ziti_aio.appliance.node_config import load_node_config
from ziti_aio.cli.cluster import app as cluster_cli
from ziti_aio.common.errors import ConfigError, first_error
from ziti_aio.controller.cluster.member import ClusterSettings
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.pki_home import SERVER_FILE, SIGNER_CA, share_cluster_pki
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.pki.files import load_leaf
from ziti_aio.pki.names import spiffe_uris
from ziti_aio.testing.cluster import DEFAULT_TIMING, free_port
from ziti_aio.testing.controller import create, open_controller
from ziti_aio.testing.waiting import wait_until

NODE = 'home = "{home}"\n# the controller\n[controller]\naddress = "127.0.0.1"\nport = {port}\nbind = "127.0.0.1"\n'


def _node_toml(tmp_path, port):
    path = tmp_path / "node.toml"
    path.write_text(NODE.format(home=tmp_path / "home", port=port))
    return path


async def _add_member(admin, port):
    resp = await admin.post("/fabric/v1/cluster/add-member",
                            json={"address": f"tls:127.0.0.1:{port}", "isVoter": True})
    assert resp.status_code == 200, resp.text


async def _until_services_on(member, services, what):
    model = member.controller.model
    assert model is not None
    await wait_until(lambda: set(services) <= set(model.entities[Kind.SERVICES]), 20, what=what)


async def test_init_then_add_a_second_member_which_gets_everything(tmp_path):
    port1, port2 = free_port(), free_port()
    config = _node_toml(tmp_path, port1)
    made = init_cluster(config, "ctrl-1")
    assert (made.member_id, made.address) == ("ctrl-1", f"127.0.0.1:{port1}")
    cfg = load_node_config(config)
    assert cfg.controller is not None and cfg.controller.cluster == ClusterSettings("ctrl-1")
    assert "# the controller" in config.read_text()  # the file is edited, not rewritten
    first_home = cfg.home / "controller"
    server, _ = load_leaf(first_home / "pki", SIGNER_CA, SERVER_FILE)
    assert made.spiffe_id in spiffe_uris(server)
    async with open_controller(first_home, port=port1, cluster=cfg.controller.cluster) as first:
        admin = await first.login()
        async with admin:
            before = await create(admin, "services", {"name": "written-alone"})
            second_home = tmp_path / "second"
            share_cluster_pki(first_home / "pki", second_home / "pki")
            joining = ClusterSettings("ctrl-2", (("ctrl-1", f"127.0.0.1:{port1}"),), DEFAULT_TIMING)
            async with open_controller(second_home, port=port2, cluster=joining) as second:
                await _add_member(admin, port2)
                after = await create(admin, "services", {"name": "written-by-two"})
                await _until_services_on(second, {before, after}, "both services on the new member")
                members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
                assert sorted(m["id"] for m in members) == ["ctrl-1", "ctrl-2"]
    # Restarted with its node.toml still naming no members, it knows from its journal it is not alone:
    # it must not elect itself at once (split brain) but wait for ctrl-2 as any member does.
    async with open_controller(first_home, port=port1, cluster=cfg.controller.cluster) as again:
        replica = again.controller.api.cluster
        assert replica is not None and not replica.alone


def test_init_twice_or_with_a_bad_id_is_refused_and_changes_nothing(tmp_path):
    config = _node_toml(tmp_path, free_port())
    init_cluster(config, "ctrl-1")
    text = config.read_text()
    with pytest.raises(ConfigError, match="already initialised as cluster member 'ctrl-1'"):
        init_cluster(config, "ctrl-9")
    result = CliRunner().invoke(cluster_cli, ["init", "--config", str(config), "--id", "ctrl-9"])
    assert result.exit_code == 1 and "already initialised as cluster member 'ctrl-1'" in result.output
    assert config.read_text() == text

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    config = _node_toml(fresh, free_port())
    text = config.read_text()
    with pytest.raises(ConfigError, match="must be a name of its own"):
        init_cluster(config, "bad/id")
    assert config.read_text() == text and not (fresh / "home").exists()


async def test_a_single_controller_initialised_later_hands_its_data_to_a_new_member(tmp_path):
    port1, port2 = free_port(), free_port()
    config = _node_toml(tmp_path, port1)
    home = tmp_path / "home" / "controller"
    async with open_controller(home, port=port1) as single:
        admin = await single.login()
        async with admin:
            before = await create(admin, "services", {"name": "written-by-a-single-controller"})
    init_cluster(config, "ctrl-1")
    async with open_controller(home, port=port1, cluster=ClusterSettings("ctrl-1")) as first:
        await wait_until(lambda: (home / "raft" / "raft.snapshot").exists(), 10, what="the first snapshot")
        share_cluster_pki(home / "pki", tmp_path / "second" / "pki")
        joining = ClusterSettings("ctrl-2", (("ctrl-1", f"127.0.0.1:{port1}"),), DEFAULT_TIMING)
        async with open_controller(tmp_path / "second", port=port2, cluster=joining) as second:
            admin = await first.login()
            async with admin:
                await _add_member(admin, port2)
            await _until_services_on(second, {before}, "the single controller's service on the new member")


async def test_any_controller_is_a_cluster_of_one_that_takes_a_member_with_no_init(tmp_path):
    port1, port2 = free_port(), free_port()
    home = tmp_path / "first"
    async with open_controller(home, port=port1) as first:  # no cluster settings
        replica = first.controller.api.cluster
        assert replica is not None and replica.alone
        instance_id = first.info.instance_id
        assert replica.node_id == instance_id  # the member id is the id /controllers showed before
        admin = await first.login()
        async with admin:
            listed = (await admin.get("/edge/client/v1/controllers")).json()["data"]
            assert [c["id"] for c in listed] == [instance_id]
            before = await create(admin, "services", {"name": "written-alone"})
            share_cluster_pki(home / "pki", tmp_path / "second" / "pki")
            joining = ClusterSettings("ctrl-2", ((instance_id, f"127.0.0.1:{port1}"),), DEFAULT_TIMING)
            async with open_controller(tmp_path / "second", port=port2, cluster=joining) as second:
                await _add_member(admin, port2)
                await _until_services_on(second, {before}, "the first controller's service on the new member")
                listed = (await admin.get("/edge/client/v1/controllers")).json()["data"]
                assert sorted(c["id"] for c in listed) == sorted([instance_id, "ctrl-2"])


async def test_init_of_a_controller_whose_store_lacks_journal_entries_is_refused(tmp_path):
    config = _node_toml(tmp_path, free_port())
    home = tmp_path / "home" / "controller"
    async with open_controller(home, port=free_port()) as single:
        admin = await single.login()
        async with admin:
            await create(admin, "services", {"name": "only-in-the-journal"})
    store = SqliteStore(home / "ctrl.db")
    store.write([], applied_index=1)  # as after kill -9 before the store was written behind
    store.close()
    text = config.read_text()
    with pytest.raises(ConfigError, match="stop it cleanly first"):
        init_cluster(config, "ctrl-1")
    assert config.read_text() == text and (home / "raft" / "raft.journal").exists()


async def test_init_of_a_running_controller_is_refused_and_changes_nothing(tmp_path):
    port = free_port()
    config = _node_toml(tmp_path, port)
    home = tmp_path / "home" / "controller"
    text = config.read_text()
    async with open_controller(home, port=port):
        pki_before = sorted(p.name for p in (home / "pki").rglob("*"))
        with pytest.raises(ConfigError, match=r"cannot initialise cluster member 'ctrl-1': a controller is running "
                                              rf"with home {home} \(pid {os.getpid()}\)"):
            init_cluster(config, "ctrl-1")
        assert config.read_text() == text and (home / "raft").exists()
        assert sorted(p.name for p in (home / "pki").rglob("*")) == pki_before
    init_cluster(config, "ctrl-1")  # stopped: the lock went with it


async def test_a_second_controller_on_the_same_home_is_refused(tmp_path):
    home = tmp_path / "ctrl"
    async with open_controller(home, port=free_port()) as first:
        admin = await first.login()
        async with admin:
            with pytest.raises(BaseException) as refused:
                async with open_controller(home, port=free_port()):
                    pass
            assert isinstance(first_error(refused.value, ConfigError), ConfigError)
            assert "cannot start a controller: a controller is running with home" in str(
                first_error(refused.value, ConfigError))
            await create(admin, "services", {"name": "still-served"})  # the first one runs on
