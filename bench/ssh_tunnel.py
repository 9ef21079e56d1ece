"""The data-plane baselines: ``ssh -L`` and ``ssh -J`` through a private OpenSSH server on 127.0.0.1.

:func:`open_ssh_forward` generates a host key and a user key in a scratch directory, starts
``/usr/sbin/sshd`` on a free loopback port with its own ``sshd_config`` (key logins only), and
two clients forwarding local ports to ``target_port``: ``ssh -N -L`` (one encrypted hop), and the
bastion a user would pick to reach a service behind a relay, ``ssh -N -J jump -L`` (issue 19): an
outer session to the jump host, which relays an inner session end to end to the target. The same
sshd serves as jump host and target, so the inner session's bytes cross sshd twice, as through a
real bastion. Strict host key checking is off: the server was created a moment ago by this process.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from bench.common import tree_cpu_s

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start as root without it
FORWARD_READY_TIMEOUT_S = 20.0
FORWARD_RETRY_S = 0.05
JUMP_ALIAS = "bench-bastion"


@dataclass(frozen=True)
class SshForward:
    """A running ``ssh -L`` (or ``ssh -J … -L``): the local port that reaches the target, and the pids
    to account CPU to."""

    port: int
    ssh_pid: int
    sshd_pid: int

    def cpu_s(self) -> float:
        """CPU seconds of the ssh client (and its ``-J`` helper) plus sshd and its per-connection processes."""
        return tree_cpu_s(self.ssh_pid) + tree_cpu_s(self.sshd_pid)


@dataclass(frozen=True)
class SshForwards:
    """Both baselines on one sshd: ``direct`` is ``ssh -L``, ``jump`` is ``ssh -J`` through the same sshd."""

    direct: SshForward
    jump: SshForward


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _sshd_config(workdir: Path, port: int) -> Path:
    config = workdir / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {workdir / 'host_key'}
PidFile {workdir / 'sshd.pid'}
AuthorizedKeysFile {workdir / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
""")
    return config


def _ssh_config(workdir: Path) -> Path:
    """Client options in a file: ``ssh -J`` passes ``-F`` (not ``-o``/``-i``) on to its jump connection.

    The jump host gets a name of its own: ssh refuses a jump host spelled like the target ("jumphost loop").
    """
    config = workdir / "ssh_config"
    config.write_text(f"""\
Host {JUMP_ALIAS}
    HostName 127.0.0.1
Host *
    IdentityFile {workdir / 'user_key'}
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    BatchMode yes
    LogLevel ERROR
""")
    return config


async def _wait_listening(port: int, sshd: trio.Process) -> None:
    """Until sshd accepts TCP connections on ``port``."""
    with trio.fail_after(FORWARD_READY_TIMEOUT_S):
        while True:
            if sshd.poll() is not None:
                raise RuntimeError(f"sshd exited with {sshd.returncode}")
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(FORWARD_RETRY_S)
                continue
            await stream.aclose()
            return


async def _wait_forwarding(port: int, ssh: trio.Process) -> None:
    """Until the forwarded port accepts and relays (connection refused until ssh has logged in)."""
    with trio.fail_after(FORWARD_READY_TIMEOUT_S):
        while True:
            if ssh.poll() is not None:
                raise RuntimeError(f"ssh exited with {ssh.returncode}")
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(FORWARD_RETRY_S)
                continue
            async with stream:
                await stream.send_all(b"?")
                if await stream.receive_some(1) == b"?":
                    return
            await trio.sleep(FORWARD_RETRY_S)


async def _start_client(args: list[str], workdir: Path, name: str) -> trio.Process:
    with open(workdir / f"{name}.log", "wb") as log:
        return await trio.lowlevel.open_process(["ssh", "-F", str(workdir / "ssh_config"), "-N", *args],
                                                stdin=subprocess.DEVNULL, stderr=log)


@asynccontextmanager
async def open_ssh_forward(workdir: Path, target_port: int) -> AsyncIterator[SshForwards]:
    """sshd plus ``ssh -N -L`` and ``ssh -N -J -L`` to ``127.0.0.1:target_port``; all stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    _keygen(workdir / "host_key")
    _keygen(workdir / "user_key")
    (workdir / "authorized_keys").write_text((workdir / "user_key.pub").read_text())
    _ssh_config(workdir)
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    sshd_port, direct_port, jump_port = _free_port(), _free_port(), _free_port()
    user_host = f"{getpass.getuser()}@127.0.0.1"
    clients: list[trio.Process] = []
    with open(workdir / "sshd.log", "wb") as sshd_log:
        sshd = await trio.lowlevel.open_process([SSHD, "-D", "-e", "-f", str(_sshd_config(workdir, sshd_port))],
                                                stdin=subprocess.DEVNULL, stderr=sshd_log)
    try:
        await _wait_listening(sshd_port, sshd)
        forward = ["-o", "ExitOnForwardFailure=yes", "-p", str(sshd_port)]
        for name, port, extra in (("ssh", direct_port, []),
                                  ("ssh-j", jump_port, ["-J", f"{getpass.getuser()}@{JUMP_ALIAS}:{sshd_port}"])):
            ssh = await _start_client([*forward, *extra, "-L", f"127.0.0.1:{port}:127.0.0.1:{target_port}",
                                       user_host], workdir, name)
            clients.append(ssh)
            try:
                await _wait_forwarding(port, ssh)
            except (RuntimeError, trio.TooSlowError) as exc:
                raise RuntimeError(f"{name} did not start ({exc}): {(workdir / f'{name}.log').read_text()[-1000:]}"
                                   f" {(workdir / 'sshd.log').read_text()[-1000:]}") from None
        yield SshForwards(SshForward(direct_port, clients[0].pid, sshd.pid),
                          SshForward(jump_port, clients[1].pid, sshd.pid))
    finally:
        with trio.CancelScope(shield=True):
            for proc in (*clients, sshd):
                proc.terminate()
                await proc.wait()
