"""The data-plane baseline: ``ssh -L`` through a private OpenSSH server on 127.0.0.1.

:func:`open_ssh_forward` generates a host key and a user key in a scratch directory, starts
``/usr/sbin/sshd`` on a free loopback port with its own ``sshd_config`` (key logins only), and
an ``ssh -N -L`` forwarding a local port to ``target_port``. Strict host key checking is off:
the server was created a moment ago by this same process.
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


@dataclass(frozen=True)
class SshForward:
    """A running ``ssh -L``: the local port that reaches the target, and the pids to account CPU to."""

    port: int
    ssh_pid: int
    sshd_pid: int

    def cpu_s(self) -> float:
        """CPU seconds of the ssh client plus the sshd listener and its per-connection processes."""
        return tree_cpu_s(self.ssh_pid) + tree_cpu_s(self.sshd_pid)


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
                raise RuntimeError(f"ssh -L exited with {ssh.returncode}")
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


@asynccontextmanager
async def open_ssh_forward(workdir: Path, target_port: int) -> AsyncIterator[SshForward]:
    """sshd plus ``ssh -N -L`` to ``127.0.0.1:target_port``; both stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    _keygen(workdir / "host_key")
    _keygen(workdir / "user_key")
    (workdir / "authorized_keys").write_text((workdir / "user_key.pub").read_text())
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    sshd_port, local_port = _free_port(), _free_port()
    with open(workdir / "sshd.log", "wb") as sshd_log, open(workdir / "ssh.log", "wb") as ssh_log:
        sshd = await trio.lowlevel.open_process([SSHD, "-D", "-e", "-f", str(_sshd_config(workdir, sshd_port))],
                                                stdin=subprocess.DEVNULL, stderr=sshd_log)
        ssh = None
        try:
            await _wait_listening(sshd_port, sshd)
            ssh = await trio.lowlevel.open_process(
                ["ssh", "-N", "-p", str(sshd_port), "-i", str(workdir / "user_key"),
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                 "-o", "ExitOnForwardFailure=yes",
                 "-L", f"127.0.0.1:{local_port}:127.0.0.1:{target_port}", f"{getpass.getuser()}@127.0.0.1"],
                stdin=subprocess.DEVNULL, stderr=ssh_log)
            try:
                await _wait_forwarding(local_port, ssh)
            except (RuntimeError, trio.TooSlowError) as exc:
                raise RuntimeError(f"ssh -L did not start ({exc}): {(workdir / 'ssh.log').read_text()[-1000:]}"
                                   f" {(workdir / 'sshd.log').read_text()[-1000:]}") from None
            yield SshForward(local_port, ssh.pid, sshd.pid)
        finally:
            with trio.CancelScope(shield=True):
                for proc in (ssh, sshd):
                    if proc is not None:
                        proc.terminate()
                        await proc.wait()
