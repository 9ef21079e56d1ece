import tomllib

import pytest

from ziti_aio.appliance.node_config import load_node_config, parse_node_config, render_node_config
from ziti_aio.common.errors import ConfigError
from ziti_aio.controller.cluster.member import ClusterSettings

GOOD = """
home = "/var/lib/ziti-aio"
[controller]
address = "ctrl.example.com"
[[router]]
name = "r9"
jwt = "r9.jwt"
edge = "127.0.0.1:3022"
link = "127.0.0.1:4022"
[tunneler]
identity = "tun.json"
mode = "host"
"""


def test_issue_example_parses(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text(GOOD)
    cfg = load_node_config(path)
    assert cfg.controller.address == "ctrl.example.com" and cfg.controller.port == 1280
    assert cfg.routers[0].jwt.as_posix() == "/var/lib/ziti-aio/r9.jwt"
    assert cfg.routers[0].edge == "127.0.0.1:3022"
    assert cfg.tunneler.mode == "host"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('home = "/h"\n[controler]\naddress = "x"\n', "unknown key 'controler'"),
        ('home = "/h"\n[controller]\naddress = 5\n', "controller.address must be a str"),
        ('home = "/h"\n[controller]\naddress = "x"\nport = 70000\n', "controller.port must be a port number"),
        ('home = "/h"\n[controller]\naddress = "x"\nport = true\n', "controller.port must be a int"),
        ('home = "/h"\n[[router]]\nname = "a"\nedge = "nohost"\n', "router[0].edge must be host:port"),
        ('home = "/h"\n[[router]]\nname = "a"\n[[router]]\nname = "a"\n', "used twice"),
        ('home = "/h"\n[tunneler]\nidentity = "t.json"\nmode = "vpn"\n', "tunneler.mode must be one of"),
        ('home = "/h"\n', "no role is configured"),
        ('[controller]\naddress = "x"\n', "home is required"),
        ('home = "/h"\n[[router]]\nname = "a"\nedgee = "1:2"\n', "unknown key 'router[0].edgee'"),
        ('home = "/h"\n[controller]\naddress = "x"\n[[controller.events]]\ntypes = ["circuits"]\nfile = "e"\n',
         "controller.events[0].types names an unknown event type 'circuits'"),
        ('home = "/h"\n[controller]\naddress = "x"\n[[controller.events]]\ntypes = ["link"]\nfile = "e"\n'
         'handler = "kafka"\n', "unknown key 'controller.events[0].handler'"),
        ('home = "/h"\n[controller]\naddress = "x"\n[[controller.events]]\ntypes = ["link"]\n',
         "controller.events[0].file is required"),
        ('home = "/h"\n[controller]\naddress = "x"\n[[controller.events]]\ntypes = []\nfile = "e"\n',
         "controller.events[0].types must name at least one event type"),
        ('home = "/h"\n[controller]\naddress = "x"\nmanagement = "dark"\n',
         "controller.management must be one of tcp, overlay, not 'dark'"),
        ('home = "/h"\n[controller]\naddress = "x"\nmanagement_service = " "\n',
         "controller.management_service must not be empty"),
    ],
)
def test_bad_configs_name_file_key_and_expectation(tmp_path, text, message):
    path = tmp_path / "node.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_node_config(path)
    assert message in info.value.message
    assert str(path) in info.value.message


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_node_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("home = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_node_config(bad)


def test_relative_paths_resolve_against_home():
    cfg = parse_node_config({"home": "/h", "tunneler": {"identity": "id.json"}})
    assert cfg.tunneler.identity.as_posix() == "/h/id.json"


def test_the_control_channel_shares_the_api_port_unless_given_its_own():
    shared = parse_node_config({"home": "/h", "controller": {"address": "c"}})
    assert shared.controller.ctrl_port is None
    apart = parse_node_config({"home": "/h", "controller": {"address": "c", "ctrl_port": 6262}})
    assert apart.controller.ctrl_port == 6262
    with pytest.raises(ConfigError, match=r"controller\.ctrl_port must be a port number"):
        parse_node_config({"home": "/h", "controller": {"address": "c", "ctrl_port": 70000}})


def test_event_files_parse_and_render_back():
    text = ('home = "/h"\n[controller]\naddress = "c"\n[[controller.events]]\ntypes = ["circuit", "link"]\n'
            'file = "events/net.log"\nmax_mib = 2\nkeep = 3\n')
    cfg = parse_node_config(tomllib.loads(text))
    [sink] = cfg.controller.events
    assert sink.types == ("circuit", "link") and sink.file.as_posix() == "/h/events/net.log"
    assert (sink.max_mib, sink.keep) == (2, 3)
    assert parse_node_config(tomllib.loads(render_node_config(cfg))) == cfg


def test_a_dark_management_plane_parses_and_renders_back():
    text = 'home = "/h"\n[controller]\naddress = "c"\nmanagement = "overlay"\nmanagement_service = "mgmt"\n'
    cfg = parse_node_config(tomllib.loads(text))
    assert (cfg.controller.management, cfg.controller.management_service) == ("overlay", "mgmt")
    assert parse_node_config(tomllib.loads(render_node_config(cfg))) == cfg
    default = parse_node_config(tomllib.loads('home = "/h"\n[controller]\naddress = "c"\n'))
    assert (default.controller.management, default.controller.management_service) == ("tcp", "ziti-aio-management")


def test_a_cluster_member_names_itself_and_the_others():
    text = ('home = "/h"\n[controller]\naddress = "c1"\n'
            'cluster = { id = "ctrl-1", members = ["ctrl-2@c2:1280", "ctrl-3@[::1]:1280"] }\n')
    cfg = parse_node_config(tomllib.loads(text))
    assert cfg.controller.cluster == ClusterSettings("ctrl-1", (("ctrl-2", "c2:1280"), ("ctrl-3", "[::1]:1280")))
    assert parse_node_config(tomllib.loads(render_node_config(cfg))) == cfg
    for bad, message in ((["ctrl-2"], "id@host:port"), (["ctrl-2@c2"], "id@host:port"),
                         (["ctrl-1@c1:1280"], "a name of its own")):
        with pytest.raises(ConfigError, match=message):
            parse_node_config({"home": "/h", "controller": {"address": "c", "cluster": {"id": "ctrl-1",
                                                                                       "members": bad}}})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_node_config({"home": "/h", "controller": {"address": "c", "cluster": {"id": "a", "peers": []}}})


def test_a_cluster_member_answers_reads_locally_unless_set_to_linearizable():
    base = 'home = "/h"\n[controller]\naddress = "c1"\ncluster = { id = "ctrl-1", members = ["ctrl-2@c2:1280"]'
    assert parse_node_config(tomllib.loads(base + " }\n")).controller.cluster.reads == "local"
    cfg = parse_node_config(tomllib.loads(base + ', reads = "linearizable" }\n'))
    assert cfg.controller.cluster.reads == "linearizable"
    assert parse_node_config(tomllib.loads(render_node_config(cfg))) == cfg
    for bad in ("strict", "Linearizable", ""):
        with pytest.raises(ConfigError, match=r"controller\.cluster\.reads .* must be one of local, linearizable"):
            parse_node_config(tomllib.loads(base + f', reads = "{bad}" }}\n'))
    with pytest.raises(ConfigError, match=r"controller\.cluster\.reads must be a str"):
        parse_node_config(tomllib.loads(base + ", reads = true }\n"))
