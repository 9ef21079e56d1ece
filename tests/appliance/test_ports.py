"""The quickstart's port check, without starting anything (docs/ports.md)."""

import socket

from ziti_aio.appliance.ports import port_problems, quickstart_ports


def test_the_quickstart_needs_the_ctrl_port_and_one_port_per_router():
    uses = quickstart_ports(ctrl_port=1280, router_port=3022, routers=3)
    assert [(u.port, u.option) for u in uses] == [(1280, "--ctrl-port"), (3022, "--router-port"),
                                                  (3023, "--router-port"), (3024, "--router-port")]
    assert quickstart_ports(ctrl_port=0, router_port=0, routers=3) == []  # 0: any free port, nothing to check


def test_every_problem_is_reported_with_the_flag_that_changes_it():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        uses = quickstart_ports(ctrl_port=port, router_port=65535, routers=2)
        assert port_problems(uses, "127.0.0.1") == [
            f"port {port} is in use (change it with --ctrl-port)",
            "port 65536 does not exist (router-instance-2 takes --router-port + 1; change it with --router-port)",
        ]


def test_free_ports_have_no_problems():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert port_problems(quickstart_ports(ctrl_port=port, router_port=0, routers=1), "127.0.0.1") == []
