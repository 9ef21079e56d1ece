"""Habits from ``ziti``: the ``edge`` tree, ``version``/``--version``, installable shell completion."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import find

import ziti_aio
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME

SCRIPT = Path(sys.executable).parent / "ziti-aio"


async def test_edge_tree_runs_the_same_commands(cli, controller, admin):
    await cli("edge", "login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    await cli("edge", "create", "identity", "via-edge", "-a", "clients")
    await cli("edge", "create", "service", "echo", "-a", "echo")
    await cli("edge", "create", "service-policy", "dial", "Dial", "--identity-roles", "#clients",
              "--service-roles", "#echo")

    assert (await find(admin, "identities", "via-edge"))["roleAttributes"] == ["clients"]
    assert "via-edge" in (await cli("edge", "list", "identities")).output
    assert (await cli("edge", "list", "services")).output == (await cli("list", "services")).output
    await cli("edge", "update", "identity", "via-edge", "-a", "other")
    await cli("edge", "delete", "identity", "via-edge")
    assert await find(admin, "identities", "via-edge") is None
    result = await cli("edge", "pki", code=2)  # only the API commands are under edge, as in ziti
    assert "No such command 'pki'" in result.output


async def test_edge_help_lists_its_commands(cli):
    listed = (await cli("edge", "--help")).output
    for name in ("login", "create", "list", "update", "delete", "verify", "enroll", "quickstart"):
        assert f"\n  {name} " in listed
    assert "Usage: ziti-aio edge create identity [OPTIONS] NAME" in (await cli("edge", "create", "identity",
                                                                              "--help")).output


async def test_version_and_dash_dash_version(cli):
    assert ziti_aio.__version__ == importlib.metadata.version("ziti-aio")
    expected = f"ziti-aio {ziti_aio.__version__}\n"
    assert (await cli("version")).output == expected
    assert (await cli("--version")).output == expected


def test_shell_completion_installs_and_completes(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    installed = subprocess.run([SCRIPT, "--install-completion"], env=env, capture_output=True, text=True,
                               check=True, timeout=60)
    assert "bash completion installed" in installed.stdout
    assert "ziti-aio" in (tmp_path / ".bashrc").read_text()

    asked = {**env, "_ZITI_AIO_COMPLETE": "complete_bash", "COMP_WORDS": "ziti-aio edge cre", "COMP_CWORD": "2"}
    completed = subprocess.run([SCRIPT], env=asked, capture_output=True, text=True, check=True, timeout=60)
    assert completed.stdout.split() == ["create"]
