"""TPROXY rules for intercepted addresses (Linux, root): nftables, else iptables, always removable.

For each intercepted ``(protocol, network, ports)`` two rules: in ``output`` (locally made
traffic) the packet is marked, so a policy route (``fwmark`` -> a table whose default route
is ``local ... dev lo``) loops it through ``lo``; in ``prerouting`` it is handed to the
tunneler's transparent listener with TPROXY. The DNS service range is also routed to
``lo`` (proto :data:`ROUTE_PROTO`). Everything lives in one table or chain pair
named :data:`NAME`, so :meth:`Intercept.clear` removes it whole; it runs before every
install, which also cleans up what a crashed tunneler left behind.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ConfigError

if TYPE_CHECKING:
    from ziti_aio.tunnel.addresses import IPNetwork, PortRange

log = logging.getLogger(__name__)

NAME = "ziti_aio"
FWMARK = 0x2A1
ROUTE_TABLE = 0x2A1
ROUTE_PROTO = 161
"""Routes we add carry this ``proto`` so that clearing finds them even after a crash."""
COMMAND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class InterceptRule:
    protocol: str  # "tcp" | "udp"
    network: IPNetwork
    ports: PortRange


def _family(rule: InterceptRule) -> str:
    return "ip" if rule.network.version == 4 else "ip6"


def nft_script(rules: list[InterceptRule], tcp_port: int, udp_port: int) -> str:
    """The nftables script that replaces table ``inet ziti_aio`` with ``rules``."""
    pre, out = [], []
    for rule in rules:
        fam, port = _family(rule), tcp_port if rule.protocol == "tcp" else udp_port
        lo = "127.0.0.1" if fam == "ip" else "[::1]"
        match = f"{fam} daddr {rule.network} {rule.protocol} dport {rule.ports.low}-{rule.ports.high}"
        pre.append(f"    {match} meta mark set {FWMARK:#x} tproxy {fam} to {lo}:{port}\n")
        out.append(f"    {match} meta mark set {FWMARK:#x}\n")
    return (f"table inet {NAME} {{}}\ndelete table inet {NAME}\ntable inet {NAME} {{\n"
            "  chain prerouting {\n    type filter hook prerouting priority mangle; policy accept;\n"
            + "".join(pre) + "  }\n  chain output {\n    type route hook output priority mangle; policy accept;\n"
            + "".join(out) + "  }\n}\n")


def iptables_rules(rules: list[InterceptRule], tcp_port: int, udp_port: int) -> list[list[str]]:
    """``iptables -t mangle`` argument lists that fill our chains (IPv4 rules only)."""
    commands = []
    for rule in rules:
        if rule.network.version != 4:
            continue
        port = tcp_port if rule.protocol == "tcp" else udp_port
        match = ["-p", rule.protocol, "-d", str(rule.network), "--dport", f"{rule.ports.low}:{rule.ports.high}"]
        commands.append(["-A", f"{NAME}_pre", *match, "-j", "TPROXY", "--on-ip", "127.0.0.1", "--on-port",
                         str(port), "--tproxy-mark", f"{FWMARK:#x}/{FWMARK:#x}"])
        commands.append(["-A", f"{NAME}_out", *match, "-j", "MARK", "--set-mark", f"{FWMARK:#x}"])
    return commands


async def _run(args: list[str], *, check: bool = True, stdin: bytes = b"") -> bool:
    with trio.fail_after(COMMAND_TIMEOUT_S):
        result = await trio.run_process(args, stdin=stdin, capture_stdout=True, capture_stderr=True, check=False)
    if result.returncode != 0 and check:
        raise ConfigError(f"{' '.join(args[:4])} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.returncode == 0


class Intercept:
    """Installs and removes the rules with ``nft`` (preferred) or ``iptables``."""

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend or ("nft" if shutil.which("nft") else "iptables" if shutil.which("iptables") else "")
        if self.backend not in ("nft", "iptables") or not shutil.which(self.backend):
            raise ConfigError("tproxy mode needs nftables (nft) or iptables installed")
        if not shutil.which("ip"):
            raise ConfigError("tproxy mode needs iproute2 (ip) installed")

    async def install(self, rules: list[InterceptRule], *, tcp_port: int, udp_port: int,
                      local_networks: tuple[IPNetwork, ...] = ()) -> None:
        """Replace whatever is installed (ours, from any earlier run) with ``rules``.

        ``local_networks`` (the DNS service range) are routed to ``lo`` outright, so they need
        no other route on this host.
        """
        await self.clear()
        for network in local_networks:
            await _run(["ip", "route", "replace", "local", str(network), "dev", "lo", "proto", str(ROUTE_PROTO)])
        for fam, default in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
            ipv4 = fam == "-4"  # IPv6 may be off on this host: best effort
            await _run(["ip", fam, "rule", "add", "fwmark", str(FWMARK), "lookup", str(ROUTE_TABLE)], check=ipv4)
            await _run(["ip", fam, "route", "add", "local", default, "dev", "lo", "table", str(ROUTE_TABLE)],
                       check=ipv4)
        if self.backend == "nft":
            await _run(["nft", "-f", "-"], stdin=nft_script(rules, tcp_port, udp_port).encode())
        else:
            for chain, hook in ((f"{NAME}_pre", "PREROUTING"), (f"{NAME}_out", "OUTPUT")):
                await _run(["iptables", "-t", "mangle", "-N", chain])
                await _run(["iptables", "-t", "mangle", "-A", hook, "-j", chain])
            for args in iptables_rules(rules, tcp_port, udp_port):
                await _run(["iptables", "-t", "mangle", *args])
        log.info("intercept: %d rule(s) installed with %s", len(rules), self.backend)

    async def clear(self) -> None:
        """Remove our table/chains, policy rules and routes; quiet when there is nothing to remove."""
        if self.backend == "nft":
            await _run(["nft", "delete", "table", "inet", NAME], check=False)
        else:
            for chain, hook in ((f"{NAME}_pre", "PREROUTING"), (f"{NAME}_out", "OUTPUT")):
                while await _run(["iptables", "-t", "mangle", "-D", hook, "-j", chain], check=False):
                    pass
                await _run(["iptables", "-t", "mangle", "-F", chain], check=False)
                await _run(["iptables", "-t", "mangle", "-X", chain], check=False)
        for fam in ("-4", "-6"):
            while await _run(["ip", fam, "rule", "del", "fwmark", str(FWMARK), "lookup", str(ROUTE_TABLE)],
                             check=False):
                pass
            await _run(["ip", fam, "route", "flush", "table", str(ROUTE_TABLE)], check=False)
            await _run(["ip", fam, "route", "flush", "proto", str(ROUTE_PROTO)], check=False)
