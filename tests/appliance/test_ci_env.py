"""Demo networks for CI in any language: ``quickstart --ci-env``, ``--detach`` and ``--exit-with-parent``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ziti_aio.appliance.ci_env import ReadyNetwork, json_path, remove_ci_env, write_ci_env
from ziti_aio.testing import wait_until

SCRIPT = Path(__file__).with_name("ci_network.sh")
README = Path(__file__).parents[2] / "README.md"
BIN = Path(sys.executable).parent
STOP_TIMEOUT_S = 30.0


def env_with_cli(tmp_path: Path) -> dict[str, str]:
    """``ziti-aio`` on PATH, and a CLI config directory of the test's own."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "ZITI_AIO_CONFIG_DIR": str(tmp_path)}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_env_file_is_shell_and_json_and_quotes_any_value(tmp_path):
    awkward = "it's $HOME `x` \"y\" \\ z"
    network = ReadyNetwork(url="https://127.0.0.1:1280", ca_bundle=tmp_path / "ca.pem", username="admin",
                           password=awkward, home=tmp_path, routers=("tls://a:1", "tls://b:2"),
                           client_identity=None, demo_service=None)
    path = tmp_path / "net.env"
    write_ci_env(path, network, pid=4242)
    shown = subprocess.run(["bash", "-c", f'. "{path}"; printf "%s|%s|%s|%s" "$ZITI_PASSWORD" "$ZITI_ROUTERS" '
                            '"$ZITI_CLIENT_IDENTITY" "$ZITI_MANAGEMENT_API"'],
                           capture_output=True, text=True, check=True, env={"HOME": "/nowhere"}).stdout
    assert shown == f"{awkward}|tls://a:1,tls://b:2||https://127.0.0.1:1280/edge/management/v1"
    values = json.loads(json_path(path).read_text())
    assert values["ZITI_PASSWORD"] == awkward and values["ZITI_QUICKSTART_PID"] == "4242"
    assert values["ZITI_CLIENT_IDENTITY"] is None and values["ZITI_CTRL_ADDRESS"] == "127.0.0.1:1280"
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the admin password
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    remove_ci_env(path)
    assert not path.exists() and not json_path(path).exists()


def test_a_shell_script_starts_uses_and_stops_a_network_with_curl(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120,
                            env={**env_with_cli(tmp_path), "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    pid = int(re.search(r"running in the background as pid (\d+)", result.stdout).group(1))
    assert '"apiVersions"' in result.stdout  # the Client API's /version, through the CA bundle
    assert '"name":"demo-echo"' in result.stdout  # the management API, logged in with the credentials
    assert not pid_alive(pid)
    [env_dir] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert list(env_dir.iterdir()) == []  # the env file and its twin are removed when the network stops
    url = re.search(r"controller\s+(https://\S+)", result.stdout).group(1)
    gone = subprocess.run(["curl", "-sk", f"{url}/edge/client/v1/version"], capture_output=True)
    assert gone.returncode == 7  # could not connect: the network is gone


def test_the_readme_shows_the_script_that_is_tested():
    assert SCRIPT.read_text() in README.read_text()


def test_detach_reports_a_quickstart_that_fails_to_start(tmp_path):
    home = tmp_path / "home"
    home.write_text("a file, not a directory")
    result = subprocess.run([str(BIN / "ziti-aio"), "quickstart", "--detach", "--home", str(home), "--ctrl-port", "0",
                             "--router-port", "0"], capture_output=True, text=True, timeout=60,
                            env=env_with_cli(tmp_path))
    assert result.returncode == 1
    assert re.search(r"the quickstart exited with code [1-9][0-9]* before it was ready", result.stderr)


def test_detach_and_exit_with_parent_exclude_each_other(tmp_path):
    result = subprocess.run([str(BIN / "ziti-aio"), "quickstart", "--detach", "--exit-with-parent"],
                            capture_output=True, text=True, timeout=60, env=env_with_cli(tmp_path))
    assert result.returncode == 2 and "exclude each other" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")
async def test_exit_with_parent_stops_the_network_when_its_parent_dies(tmp_path):
    env_file = tmp_path / "net.env"
    # the parent starts the quickstart, waits until it is ready, prints its pid and dies without a word
    parent = (
        "import subprocess, sys, time, os\n"
        f"child = subprocess.Popen([{str(BIN / 'ziti-aio')!r}, 'quickstart', '--exit-with-parent', '--ci-env', "
        f"{str(env_file)!r}, '--ctrl-port', '0', '--router-port', '0', '--no-tunneler', '--routers', '0'], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"while not os.path.exists({str(env_file)!r}) and child.poll() is None:\n    time.sleep(0.05)\n"
        "print(child.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60, check=True)
    pid = int(out.stdout)
    assert env_file.exists()
    await wait_until(lambda: not pid_alive(pid), STOP_TIMEOUT_S, what="the quickstart to exit with its parent")
    assert not env_file.exists()  # it stopped cleanly (SIGTERM), not killed
