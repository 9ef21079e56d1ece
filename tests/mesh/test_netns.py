"""Multi-host: controller and routers as separate ``ziti-aio run --config`` processes, each in its
own network namespace, joined by veth pairs with namespace-internal 10.203.x.y addresses.

::

    ctrl (10.203.0.1 on lo, no forwarding) -- veth to each router's namespace (10.203.N.0/24)
    r1 (edge, link listener 10.203.100.1) --- r2 (transit) --- r3 (edge, link listener 10.203.100.3)
                                          \\-- r4 (transit, cost 100) --/

r1 and r3 cannot reach each other, so a circuit from the dialer (on r1) to the host (on r3) takes
two hops, through r2 (cheaper than r4). Killing r2's process (-9) moves the transfer to r4;
killing r4 then leaves no path, and both ends get a clean close.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
import trio

pytestmark = [
    pytest.mark.slow,
    pytest.mark.needs_root("ip", "sysctl", why="network namespaces"),
]

NODE = str(Path(__file__).with_name("netns_node.py"))
CTRL_IP = "10.203.0.1"
PASSWORD = "netns-admin-pw"
LINKS = {"r1": ("r2", "r4"), "r3": ("r2", "r4")}  # veth pairs between router namespaces


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class Namespaces:
    """One namespace per node, named uniquely for this run; ``delete`` removes them and their veths."""

    def __init__(self) -> None:
        self.prefix = f"zt{os.getpid() % 100000}"
        self.created: list[str] = []

    def ns(self, node: str) -> str:
        return f"{self.prefix}{node}"

    def add(self, node: str) -> None:
        ip("netns", "add", self.ns(node))
        self.created.append(self.ns(node))
        self.run(node, "link", "set", "lo", "up")
        subprocess.run(["ip", "netns", "exec", self.ns(node), "sysctl", "-qw", "net.ipv4.ip_forward=0"], check=True)

    def run(self, node: str, *args: str) -> None:
        ip("-n", self.ns(node), *args)

    def veth(self, a: str, a_ip: str, b: str, b_ip: str) -> None:
        """A veth pair between nodes ``a`` and ``b`` (interfaces named after the peer), /24 addresses."""
        ip("link", "add", b, "netns", self.ns(a), "type", "veth", "peer", "name", a, "netns", self.ns(b))
        for node, dev, addr in ((a, b, a_ip), (b, a, b_ip)):
            self.run(node, "addr", "add", f"{addr}/24", "dev", dev)
            self.run(node, "link", "set", dev, "up")

    def delete(self) -> None:
        for name in self.created:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def build(nss: Namespaces) -> None:
    for node in ("c", "r1", "r2", "r3", "r4"):
        nss.add(node)
    nss.run("c", "addr", "add", f"{CTRL_IP}/32", "dev", "lo")
    for n in (1, 2, 3, 4):
        nss.veth("c", f"10.203.{n}.1", f"r{n}", f"10.203.{n}.2")
        nss.run(f"r{n}", "route", "add", f"{CTRL_IP}/32", "via", f"10.203.{n}.1")
    for end, middles in LINKS.items():
        e = end[1]
        nss.run(end, "addr", "add", f"10.203.100.{e}/32", "dev", "lo")
        for middle in middles:
            m = middle[1]
            subnet = f"10.203.{min(e, m)}{max(e, m)}"
            nss.veth(end, f"{subnet}.{e}", middle, f"{subnet}.{m}")
            nss.run(middle, "route", "add", f"10.203.100.{e}/32", "via", f"{subnet}.{e}")


class Proc:
    """A process in a namespace whose output lines are kept (the last few thousand) and awaitable."""

    def __init__(self, nss: Namespaces, node: str, *argv: str) -> None:
        self.argv = ["ip", "netns", "exec", nss.ns(node), sys.executable, *argv]
        self.lines: deque[str] = deque(maxlen=4000)
        self.changed = trio.Event()
        self.process: trio.Process | None = None

    async def start(self, nursery: trio.Nursery) -> Proc:
        self.process = await trio.lowlevel.open_process(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                        stderr=subprocess.STDOUT)
        nursery.start_soon(self._read)
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        buffer = b""
        while data := await self.process.stdout.receive_some(65536):
            *complete, buffer = (buffer + data).split(b"\n")
            self.lines.extend(line.decode(errors="replace") for line in complete)
            self.changed.set()
        self.changed.set()

    async def wait_for(self, marker: str, timeout_s: float = 30) -> str:
        with trio.fail_after(timeout_s):
            while True:
                for line in self.lines:
                    if marker in line:
                        return line
                if self.process is not None and self.process.returncode is not None:
                    raise AssertionError(f"{self.argv} exited:\n" + "\n".join(self.lines))
                self.changed = trio.Event()
                await self.changed.wait()

    async def send_line(self, text: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        await self.process.stdin.send_all(text.encode() + b"\n")

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


async def admin(nss: Namespaces, home: Path, *args: str) -> list | dict:  # type: ignore[type-arg]
    ca = str(home / "ctrl" / "controller" / "pki" / "ca-bundle.pem")
    result = await trio.run_process(["ip", "netns", "exec", nss.ns("c"), sys.executable, NODE, args[0],
                                     f"https://{CTRL_IP}:1280", ca, PASSWORD, *args[1:]],
                                    capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def node_toml(path: Path, home: Path, body: str) -> str:
    path.write_text(f'home = "{home}"\n{body}')
    return str(path)


async def start_network(nss: Namespaces, tmp: Path, nursery: trio.Nursery, procs: list[Proc]) -> dict[str, str]:
    ctrl_cfg = node_toml(tmp / "ctrl.toml", tmp / "ctrl",
                         f'[controller]\naddress = "{CTRL_IP}"\nport = 1280\nctrl_port = 6262\nbind = "0.0.0.0"\n'
                         f'admin_password = "{PASSWORD}"\n')
    ctrl = await Proc(nss, "c", "-m", "ziti_aio", "run", "--config", ctrl_cfg).start(nursery)
    procs.append(ctrl)
    await ctrl.wait_for("ready in")
    ids = await admin(nss, tmp, "setup", str(tmp))
    assert isinstance(ids, dict)
    routers = []
    for name in ("r1", "r2", "r3", "r4"):
        n = name[1]
        listeners = f'edge = "10.203.{n}.2:3022"\nlink = "10.203.100.{n}:4022"\n' if name in LINKS else ""
        cfg = node_toml(tmp / f"{name}.toml", tmp / f"{name}-home",
                        f'[[router]]\nname = "{name}"\njwt = "{tmp / name}.jwt"\n{listeners}')
        routers.append(await Proc(nss, name, "-m", "ziti_aio", "run", "--config", cfg).start(nursery))
    procs.extend(routers)
    for router in routers:
        await router.wait_for("ready in")
    assert "(transit)" in await routers[1].wait_for("router       r2")
    return ids


async def test_two_hops_across_namespaces_reroute_then_clean_close(tmp_path):
    nss = Namespaces()
    procs: list[Proc] = []
    try:
        build(nss)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(90):
                ids = await start_network(nss, tmp_path, nursery, procs)
                links = await admin(nss, tmp_path, "links", "4")
                pairs = {frozenset((lk["sourceRouter"]["name"], lk["destRouter"]["name"])) for lk in links}
                assert pairs == {frozenset(p) for p in (("r1", "r2"), ("r1", "r4"), ("r3", "r2"), ("r3", "r4"))}

                host = await Proc(nss, "r3", NODE, "host", str(tmp_path / "host.json")).start(nursery)
                procs.append(host)
                await host.wait_for("bound")
                dialer = await Proc(nss, "r1", NODE, "dialer", str(tmp_path / "dialer.json"), "2").start(nursery)
                procs.append(dialer)
                r2, r4 = procs[2], procs[4]

                # phase 1: two hops through r2; r2 dies mid-transfer; the circuit moves to r4
                await dialer.wait_for("phase1 half")
                [circuit] = await admin(nss, tmp_path, "circuits")
                assert circuit["path"]["nodes"] == [ids["r1"], ids["r2"], ids["r3"]]
                r2.kill()
                await dialer.send_line("go")
                assert await dialer.wait_for("phase1 result:") == "phase1 result: ok"
                await host.wait_for("host done 8388608")

                # phase 2: through r4, the only path left; r4 dies: no path, both ends closed
                await dialer.wait_for("phase2 half")
                [circuit] = await admin(nss, tmp_path, "circuits")
                assert circuit["path"]["nodes"] == [ids["r1"], ids["r4"], ids["r3"]]
                r4.kill()
                await dialer.send_line("go")
                closed = await dialer.wait_for("phase2 result:")
                assert closed.startswith("phase2 result: closed:") and "no other path" in closed, closed
                assert "no other path" in await host.wait_for("host closed:")
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            for proc in procs:
                proc.kill()
            for proc in procs:
                if proc.process is not None:
                    await proc.process.wait()
        nss.delete()
