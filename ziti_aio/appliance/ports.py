"""The quickstart's ports, checked before anything starts: every problem at once, each naming the
option that changes it.

A quickstart needs two ports (docs/ports.md): ``--ctrl-port`` (the APIs and the routers' control
channel) and ``--router-port`` (SDKs and links of the first router; each further router takes the
next port). Port 0 means any free port and is never checked.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

MAX_PORT = 65535


@dataclass(frozen=True)
class PortUse:
    """A port the quickstart will listen on, who listens there and the option that changes it."""

    port: int
    user: str
    option: str
    offset: int = 0  # how far past the option's value this port is (the n-th router: n - 1)

    @property
    def how_to_change(self) -> str:
        if self.offset:
            return f"{self.user} takes {self.option} + {self.offset}; change it with {self.option}"
        return f"change it with {self.option}"


def quickstart_ports(*, ctrl_port: int, router_port: int, routers: int) -> list[PortUse]:
    """The fixed ports a quickstart with these options listens on (port 0 left out)."""
    uses = [PortUse(ctrl_port, "the controller", "--ctrl-port")] if ctrl_port else []
    if router_port:
        uses += [PortUse(router_port + n, f"router-instance-{n + 1}", "--router-port", n)
                 for n in range(max(routers, 0))]
    return uses


def port_problems(uses: list[PortUse], bind_host: str) -> list[str]:
    """One line per port that cannot be listened on at ``bind_host`` (out of range, wanted twice,
    in use, not allowed); empty if all are free."""
    problems = []
    taken: dict[int, PortUse] = {}
    for use in uses:
        if use.port > MAX_PORT:
            problems.append(f"port {use.port} does not exist ({use.how_to_change})")
        elif use.port in taken:
            first = taken[use.port]
            problems.append(f"port {use.port} is wanted by {first.user} ({first.option}) and by {use.user} "
                            f"({use.how_to_change})")
        else:
            taken[use.port] = use
            reason = bind_problem(bind_host, use.port)
            if reason:
                problems.append(f"port {use.port} {reason} ({use.how_to_change})")
    return problems


def bind_problem(host: str, port: int) -> str | None:
    """Why a listener could not bind ``host:port`` now, or ``None``. Binds as the listeners do
    (``SO_REUSEADDR``), so a port that only has connections closing is free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        return None  # an unusable address is reported where the address is checked
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror or exc}"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (cluster members must know each other's ports before they start)."""
    with socket.socket() as sock:
        sock.bind((host if host != "0.0.0.0" else "", 0))
        return int(sock.getsockname()[1])
