"""A bad setting is one line naming the flag or key and the value, exit code 2, before anything starts;
SIGHUP stops a quickstart cleanly and its temporary home goes with it."""

import os
import signal
import subprocess
import sys
import tomllib

import pytest
import trio

from ziti_aio.appliance.node_config import parse_node_config
from ziti_aio.appliance.quickstart import PASSWORD_FILE, admin_password
from ziti_aio.appliance.validate import check_node, prepare_home
from ziti_aio.common.errors import ConfigError
from ziti_aio.testing.quickstart import start_quickstart

QUICK = ("--ctrl-port", "0", "--router-port", "0", "--no-tunneler")


async def _ziti_aio(*args, tmp_path, timeout_s=60):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with trio.fail_after(timeout_s):
        return await trio.run_process([sys.executable, "-m", "ziti_aio", *args], env=env, capture_stdout=True,
                                      capture_stderr=True, check=False)


def _temporary_homes(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ziti-aio-quickstart-"))


@pytest.mark.parametrize(("args", "message"), [
    (("--ctrl-address", "bad host name!"), "error: --ctrl-address 'bad host name!' is not a host name or IP address"),
    (("--router-address", "bad host name!"), "error: --router-address 'bad host name!' is not a host name or IP "
                                             "address"),
    (("--router-address", "nosuch.invalid"), "error: --router-address 'nosuch.invalid' does not resolve on this host"),
    (("--ctrl-port", "70000"), "error: --ctrl-port 70000 is not a port number (0-65535; 0 picks any free port)"),
    (("--router-port", "-1"), "error: --router-port -1 is not a port number"),
    (("--routers", "-1"), "error: --routers -1 must be 0 or more"),
    (("-u", ""), "error: -u/--username must not be empty"),
])
async def test_a_bad_quickstart_flag_is_one_line_and_exit_2(tmp_path, args, message):
    done = await _ziti_aio("quickstart", *QUICK, *args, tmp_path=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.startswith(message) and len(err.splitlines()) == 1, err
    assert _temporary_homes(tmp_path) == []  # nothing was created for it


async def test_a_home_that_cannot_be_one_names_the_path(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    done = await _ziti_aio("quickstart", *QUICK, "--home", str(afile), tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (f"error: --home {afile} is a file, not a directory; "
                                    "name a directory (it is created if missing)\n")
    done = await _ziti_aio("quickstart", *QUICK, "--home", str(afile / "home"), tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (f"error: --home {afile / 'home'}: cannot create the directory (Not a directory); "
                                    "name a directory this user can create or write\n")
    assert afile.read_text() == "not a directory"


def test_prepare_home_creates_a_private_directory(tmp_path):
    home = prepare_home("--home", tmp_path / "a" / "home")
    assert home.is_dir() and home.stat().st_mode & 0o777 == 0o700


def test_a_home_keeps_its_password_and_says_where(tmp_path):
    assert admin_password(tmp_path, "first-password") == ("first-password", False)
    assert (tmp_path / PASSWORD_FILE).stat().st_mode & 0o777 == 0o600
    assert admin_password(tmp_path, None) == ("first-password", False)
    assert admin_password(tmp_path, "first-password") == ("first-password", False)
    with pytest.raises(ConfigError) as caught:
        admin_password(tmp_path, "other-password")
    assert caught.value.message == (
        f"-p/--password: the home {tmp_path} keeps the admin password set on its first start "
        f"(in {tmp_path / PASSWORD_FILE}); leave out -p/--password to use it, or start a new network in another home")
    generated, new = admin_password(tmp_path / "other", None)
    assert new and (tmp_path / "other" / PASSWORD_FILE).read_text() == generated + "\n"
    legacy = tmp_path / "legacy"  # started before homes kept a given password: nothing to compare, nothing written
    (legacy / "controller").mkdir(parents=True)
    assert admin_password(legacy, "given-password") == ("given-password", False)
    assert not (legacy / PASSWORD_FILE).exists()


def _node(tmp_path, toml):
    return parse_node_config(tomllib.loads(f'home = "{tmp_path}"\n' + toml), source="n.toml")


@pytest.mark.parametrize(("toml", "message"), [
    ('[controller]\naddress = "bad host!"\n',
     "n.toml: controller.address 'bad host!' is not a host name or IP address"),
    ('[controller]\naddress = "c"\nbind = "-x"\n', "n.toml: controller.bind '-x' is not a host name or IP address"),
    ('[controller]\naddress = "c"\nadmin_username = " "\n', "n.toml: controller.admin_username must not be empty"),
    ('[[router]]\nname = "r"\njwt = "r.jwt"\nedge = "0.0.0.0:3022"\nadvertise = "a b"\n',
     "n.toml: router[0].advertise 'a b' is not a host name or IP address"),
    ('[[router]]\nname = "r"\njwt = "r.jwt"\nedge = "no host!:3022"\n',
     "n.toml: router[0].edge 'no host!' is not a host name or IP address"),
    ('[[router]]\nname = "r"\njwt = "missing.jwt"\nedge = "0.0.0.0:3022"\n',
     "n.toml: router[0].jwt '{home}/missing.jwt' is not a file; router 'r' is not enrolled yet"),
    ('[[router]]\nname = "r"\nedge = "0.0.0.0:3022"\n', "n.toml: router[0].jwt is missing; router 'r' is not enrolled"),
    ('[tunneler]\nidentity = "missing.json"\n', "n.toml: tunneler.identity '{home}/missing.json' is not a file; "
     "enroll the identity first"),
    ('[tunneler]\nidentity = "id.json"\nmode = "proxy"\n',
     'n.toml: tunneler.proxy must list at least one "SERVICE:PORT" in proxy mode'),
    ('[tunneler]\nidentity = "id.json"\nmode = "proxy"\nproxy = ["svc"]\n',
     "n.toml: tunneler.proxy: proxy argument must be SERVICE:PORT (port 0-65535), not 'svc'"),
    ('[tunneler]\nidentity = "id.json"\ndns_upstreams = ["1.1.1.1:99999"]\n',
     "n.toml: tunneler.dns_upstreams: DNS address must be [udp://]host[:port], not '1.1.1.1:99999'"),
    ('[tunneler]\nidentity = "id.json"\nresolver = "udp://"\n',
     "n.toml: tunneler.resolver: DNS address must be [udp://]host[:port], not 'udp://'"),
    ('[tunneler]\nidentity = "id.json"\ndns_range = "100.64.0.1/99"\n',
     "n.toml: tunneler.dns_range '100.64.0.1/99' is not a CIDR range"),
])
def test_every_node_toml_value_is_checked_before_start(tmp_path, toml, message):
    (tmp_path / "r.jwt").write_text("jwt")
    (tmp_path / "id.json").write_text("{}")
    with pytest.raises(ConfigError) as caught:
        check_node(_node(tmp_path, toml), "n.toml")
    assert caught.value.message.startswith(message.format(home=tmp_path)), caught.value.message


def test_a_valid_node_toml_passes(tmp_path):
    (tmp_path / "r.jwt").write_text("jwt")
    (tmp_path / "id.json").write_text("{}")
    check_node(_node(tmp_path, '[controller]\naddress = "ctrl.example.com"\nbind = "::"\n'
                               '[[router]]\nname = "r"\njwt = "r.jwt"\nedge = "[::]:3022"\nlink = "0.0.0.0:4022"\n'
                               'advertise = "r9.example.com"\n'
                               '[tunneler]\nidentity = "id.json"\nmode = "tproxy"\ndns_upstreams = ["1.1.1.1"]\n'),
               "n.toml")


async def test_run_refuses_a_bad_node_toml_with_exit_2(tmp_path):
    (tmp_path / "n.toml").write_text(f'home = "{tmp_path / "home"}"\n[controller]\naddress = "bad host!"\n')
    done = await _ziti_aio("run", "--config", str(tmp_path / "n.toml"), tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == \
        f"error: {tmp_path / 'n.toml'}: controller.address 'bad host!' is not a host name or IP address\n"
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_quickstart_and_removes_its_temporary_home(tmp_path, signum):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "ziti_aio", "quickstart", *QUICK, "--ctrl-address", "127.0.0.1"],
        stdout=subprocess.PIPE, env=env)
    output = b""
    try:
        with trio.fail_after(60):
            while b"ready in" not in output:
                chunk = await proc.stdout.receive_some()
                assert chunk, output.decode()
                output += chunk
            (home,) = _temporary_homes(tmp_path)
            assert f"home         {tmp_path / home}  (temporary: removed on exit)" in output.decode()
            assert "(generated)\n" in output.decode()
            proc.send_signal(signum)
            while chunk := await proc.stdout.receive_some():
                output += chunk
            assert await proc.wait() == 0, output.decode()
    finally:
        proc.kill()
        await proc.wait()
    assert f"stopping ({signum.name})" in output.decode()
    assert f"removed temporary home {tmp_path / home}" in output.decode()
    assert _temporary_homes(tmp_path) == []


async def test_a_home_restarted_with_another_password_is_told_where_its_password_is(tmp_path):
    home = tmp_path / "qs"
    first = await start_quickstart(home, *QUICK, "--ctrl-address", "127.0.0.1", "-p", "first-password")
    assert first.stop() == 0
    done = await _ziti_aio("quickstart", *QUICK, "--home", str(home), "-p", "other-password", tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"error: -p/--password: the home {home} keeps the admin password set on its first start "
        f"(in {home / PASSWORD_FILE}); leave out -p/--password to use it, or start a new network in another home\n")
    # a password file that no longer matches the store (edited by hand): the login error says where it is
    (home / PASSWORD_FILE).write_text("edited-by-hand\n")
    done = await _ziti_aio("quickstart", *QUICK, "--home", str(home), "--ctrl-address", "127.0.0.1",
                           tmp_path=tmp_path)
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "error: the quickstart could not log in as 'admin': INVALID_AUTH: The authentication request failed; "
        "the admin's password is the one it got on the home's first start"
        f" (kept in {home / PASSWORD_FILE})\n")
    (home / PASSWORD_FILE).write_text("first-password\n")
    again = await start_quickstart(home, *QUICK, "--ctrl-address", "127.0.0.1")
    assert "admin        admin / first-password\n" in again.output
    assert again.stop() == 0
