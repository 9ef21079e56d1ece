"""The one-file binary from quickstart.spec: every command runs frozen, a quickstart serves HTTPS."""

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from ziti_aio.common.api_paths import MANAGEMENT
from ziti_aio.testing.quickstart import start_quickstart

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 600
M = MANAGEMENT
QS_ARGS = ("--ctrl-port", "0", "--router-port", "0", "--ctrl-address", "127.0.0.1", "--routers", "1",
           "--no-tunneler", "-p", "pw")


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    pytest.importorskip("PyInstaller", reason="pyinstaller is not installed (it comes with the test extra)")
    out = tmp_path_factory.mktemp("pyinstaller")
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(out / "dist"), "--workpath", str(out / "work"), str(REPO / "quickstart.spec")],
                   cwd=REPO, check=True, timeout=BUILD_TIMEOUT_S)
    path = out / "dist" / "ziti-aio"
    assert path.is_file()
    return path


def _run(binary, *args):
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command(binary):
    result = _run(binary, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("quickstart", "run", "login", "create", "list", "update", "delete", "enroll", "pki"):
        assert command in result.stdout


def test_pki_create_ca(binary, tmp_path):
    result = _run(binary, "pki", "create", "ca", "--pki-root", str(tmp_path), "--ca-file", "root")
    assert result.returncode == 0, result.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "root" / "certs" / "root.cert").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


async def test_quickstart_serves_an_online_router_and_stops_cleanly(binary, tmp_path):
    home = tmp_path / "qs"
    qs = await start_quickstart(home, *QS_ARGS, command=[str(binary)])
    try:
        ca = ssl.create_default_context(cafile=str(home / "controller" / "pki" / "ca-bundle.pem"))
        async with httpx.AsyncClient(base_url=qs.url, verify=ca) as anon:
            resp = await anon.post(f"{M}/authenticate?method=password", json={"username": "admin", "password": "pw"})
            assert resp.status_code == 200, resp.text
        headers = {"zt-session": resp.json()["data"]["token"]}
        async with httpx.AsyncClient(base_url=qs.url, verify=ca, headers=headers) as admin:
            routers = (await admin.get(f"{M}/edge-routers")).json()["data"]
            assert [(r["name"], r["isOnline"]) for r in routers] == [("router-instance-1", True)]
            # Config data is checked against the bundled config-type schemas.
            bad = await admin.post(f"{M}/configs", json={"name": "c", "configTypeId": "host.v1",
                                                         "data": {"protocol": "xx"}})
            assert bad.status_code == 400, bad.text
        # The web console's templates and static files travel inside the binary (docs/console.md).
        async with httpx.AsyncClient(base_url=qs.url, verify=ca) as browser:
            form = await browser.get("/console/login")
            assert form.status_code == 200 and 'name="csrf"' in form.text, form.text
            csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            login = await browser.post("/console/login", data={"csrf": csrf, "username": "admin", "password": "pw"})
            assert login.status_code == 303, login.text
            overview = await browser.get("/console/")
            assert overview.status_code == 200 and "router-instance-1" in overview.text
            assert (await browser.get("/console/static/console.js")).status_code == 200
    finally:
        assert qs.stop() == 0
