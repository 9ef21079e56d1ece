"""``ziti-aio login``: -y saves the controller's CA, later logins trust it, failures are one clean line."""

import json
import stat

import jwt
import pytest

from ziti_aio.cli.client import CliError, normalize_url
from ziti_aio.pki.bundle import fingerprint_sha1, load_certs_pem
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, MANAGEMENT


async def test_login_y_saves_ca_and_token_privately(cli, controller):
    result = await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")

    path = cli.config_dir / "cli.json"
    saved = json.loads(path.read_text())
    assert saved["url"] == controller.url
    served = load_certs_pem(controller.info.ca_bundle_path.read_bytes())
    assert {fingerprint_sha1(c) for c in load_certs_pem(saved["ca"])} == {fingerprint_sha1(c) for c in served}
    assert saved["token"] not in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    async with controller.client(token=saved["token"]) as c:
        assert (await c.get(f"{MANAGEMENT}/current-identity")).json()["data"]["isDefaultAdmin"] is True


async def test_second_login_without_y_trusts_the_saved_ca(cli, controller):
    address = controller.url.removeprefix("https://")
    await cli("login", address, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    first = json.loads((cli.config_dir / "cli.json").read_text())

    await cli("login", address, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD)

    second = json.loads((cli.config_dir / "cli.json").read_text())
    assert second["ca"] == first["ca"]
    assert second["token"] != first["token"]
    await cli("list", "identities")


async def test_login_without_y_refuses_an_unknown_ca(cli, controller):
    result = await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, code=1)

    assert result.stderr.startswith("error: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr and "-y" in result.stderr
    assert not (cli.config_dir / "cli.json").exists()


async def test_login_with_ca_file(cli, controller):
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD,
              "--ca", str(controller.info.ca_bundle_path))

    assert json.loads((cli.config_dir / "cli.json").read_text())["url"] == controller.url


async def test_bad_password_is_one_clean_line(cli, controller):
    result = await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", "wrong", "-y", code=1)

    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: INVALID_AUTH: ")
    assert not (cli.config_dir / "cli.json").exists()


async def test_password_is_prompted_and_hidden(cli, controller):
    result = await cli("login", controller.url, "-u", ADMIN_USERNAME, "-y", input=ADMIN_PASSWORD + "\n")

    assert "Password" in result.output
    assert ADMIN_PASSWORD not in result.output
    assert (cli.config_dir / "cli.json").exists()


async def test_forget_removes_the_login(logged_in, controller):
    await logged_in("login", "forget")

    assert not (logged_in.config_dir / "cli.json").exists()
    result = await logged_in("list", "identities", code=1)
    assert "not logged in" in result.stderr


async def test_unknown_session_is_reported_cleanly(logged_in):
    path = logged_in.config_dir / "cli.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "token": "not-a-session"}))

    result = await logged_in("list", "identities", code=1)

    assert result.stderr.startswith("error: UNAUTHORIZED: ")
    assert "ziti-aio login" in result.stderr


@pytest.mark.parametrize(("given", "url"), [
    ("localhost:1280", "https://localhost:1280"),
    ("https://ctrl.example:1280/edge/management/v1", "https://ctrl.example:1280"),
    ("ctrl.example", "https://ctrl.example"),
    ("[::1]:1280", "https://[::1]:1280"),
])
def test_addresses_are_normalized(given, url):
    assert normalize_url(given) == url


@pytest.mark.parametrize("bad", ["http://ctrl:1280", "ctrl:99999", "https://[zz", "https://"])
def test_bad_addresses_are_refused(bad):
    with pytest.raises(CliError, match="not a controller address"):
        normalize_url(bad)


async def test_login_without_host_uses_the_saved_controller(cli, controller):
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")

    result = await cli("login", "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD)

    assert f"using controller {controller.url}" in result.output
    await cli("list", "identities")


async def test_login_without_host_or_saved_login_asks_with_a_default(cli, controller):
    address = controller.url.removeprefix("https://")
    result = await cli("login", "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y", input=address + "\n")

    assert "Controller host[:port] [localhost:1280]:" in result.output
    assert json.loads((cli.config_dir / "cli.json").read_text())["url"] == controller.url

    await cli("login", "forget")
    result = await cli("login", "-u", ADMIN_USERNAME, "-p", "wrong", input="\n", code=1)
    assert "https://localhost:1280" in result.stderr


async def test_login_is_oidc_by_default_and_refreshes_before_expiry(cli, controller):
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    path = cli.config_dir / "cli.json"
    first = json.loads(path.read_text())
    claims = jwt.decode(first["token"], options={"verify_signature": False})
    assert claims["z_t"] == "a", "an OIDC access token (docs/oidc.md §6)"
    assert first["refresh_token"] and first["token_endpoint"].endswith("/oidc/oauth/token")

    # an access token about to run out is refreshed before the command (and the new pair saved)
    short = jwt.encode({**claims, "exp": claims["iat"] + 1}, controller.controller.api.access.signer.key,
                       algorithm="ES256")
    path.write_text(json.dumps({**first, "token": short}))
    await cli("list", "identities")
    second = json.loads(path.read_text())
    assert second["token"] != short and second["refresh_token"] != first["refresh_token"]
    await cli("list", "identities")


async def test_legacy_login_keeps_the_api_session_token(cli, controller):
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y", "--legacy")
    saved = json.loads((cli.config_dir / "cli.json").read_text())
    assert jwt.decode(saved["token"], options={"verify_signature": False})["typ"] == "api-session"
    assert saved["refresh_token"] == ""
    await cli("list", "identities")
