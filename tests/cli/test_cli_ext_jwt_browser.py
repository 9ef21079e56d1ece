"""``ziti-aio login HOST --ext-jwt-signer NAME --no-browser``: the CLI runs as a process, prints the provider's
login URL, and an HTTP client plays the browser — the loopback issuer approves (or refuses) and redirects to the
CLI's loopback listener; the CLI exchanges the code (PKCE) and logs in with the signer's target token."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trio

from ziti_aio.cli.config_file import CONFIG_DIR_ENV, CONFIG_FILE_NAME
from ziti_aio.testing.controller import create, open_controller
from ziti_aio.testing.idp import open_idp

if TYPE_CHECKING:
    from pathlib import Path

    from cli_helpers import Cli

CLIENT_ID = "cli"
WAIT_S = 60


@pytest.fixture
async def idp(tmp_path):
    async with open_idp(tmp_path / "idp") as running:
        running.grants.client_ids.add(CLIENT_ID)
        running.grants.approve = "alice"
        yield running


@pytest.fixture
async def controller(tmp_path, idp):
    async with open_controller(tmp_path / "ctrl", jwks_ca_file=str(idp.ca_path)) as running:
        yield running


async def _signer(admin: Any, idp: Any, name: str, target: str) -> None:
    # An ID token's audience is the client id; an access token's is the issuer's audience.
    await create(admin, "external-jwt-signers", {
        "name": name, "issuer": idp.issuer, "audience": CLIENT_ID if target == "ID" else idp.audience,
        "enabled": True, "jwksEndpoint": idp.jwks_url, "useExternalId": True, "externalAuthUrl": idp.issuer,
        "clientId": CLIENT_ID, "scopes": ["openid"], "targetToken": target})


class Login:
    """``ziti-aio login`` as a process; :meth:`url` reads the login URL it prints."""

    def __init__(self, config_dir: Path, *args: str) -> None:
        env = {**os.environ, CONFIG_DIR_ENV: str(config_dir)}
        self.args = [sys.executable, "-m", "ziti_aio", "login", *args, "--no-browser"]
        self.env = env
        self.output = b""

    async def __aenter__(self) -> Login:
        self.proc = await trio.lowlevel.open_process(self.args, env=self.env, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()

    async def url(self) -> str:
        assert self.proc.stdout is not None
        with trio.fail_after(WAIT_S):
            while b"\nhttp" not in self.output:
                chunk = await self.proc.stdout.receive_some()
                assert chunk, self.output.decode()
                self.output += chunk
        return next(line for line in self.output.decode().splitlines() if line.startswith("http"))

    async def finish(self) -> tuple[int, str]:
        assert self.proc.stdout is not None
        with trio.fail_after(WAIT_S):
            while chunk := await self.proc.stdout.receive_some():
                self.output += chunk
            return await self.proc.wait(), self.output.decode()


async def _browse(url: str, idp: Any) -> httpx.Response:
    trust = ssl.create_default_context(cafile=str(idp.ca_path))
    async with httpx.AsyncClient(verify=trust, follow_redirects=True) as browser:
        return await browser.get(url)


@pytest.mark.parametrize("target", ["ACCESS", "ID"])
async def test_login_through_the_identity_providers_browser_flow(cli: Cli, controller, admin, idp, tmp_path,
                                                                 target):
    await _signer(admin, idp, "corp", target)
    await create(admin, "identities", {"name": "alice", "type": "User", "externalId": "alice", "isAdmin": True})
    async with Login(cli.config_dir, controller.url, "--ext-jwt-signer", "corp", "-y",
                     "--idp-ca", str(idp.ca_path)) as login:
        url = await login.url()
        query = parse_qs(urlsplit(url).query)
        assert (query["client_id"], query["code_challenge_method"]) == ([CLIENT_ID], ["S256"])
        page = await _browse(url, idp)
        assert page.status_code == 200 and "close this window" in page.text
        code, output = await login.finish()
    assert code == 0, output
    assert "logged in to" in output and "code=" not in output
    listed = await cli("list", "identities")
    assert "alice" in listed.output
    assert not idp.grants.codes  # the code was exchanged (and so cannot be used again)


async def test_unknown_signer_or_untrusted_provider_refused_and_nothing_saved(cli: Cli, controller, admin, idp):
    await _signer(admin, idp, "corp", "ACCESS")
    result = await cli("login", controller.url, "--ext-jwt-signer", "nope", "--no-browser", "-y", code=1)
    assert "no external JWT signer named 'nope'" in result.output and "corp" in result.output
    untrusted = await cli("login", controller.url, "--ext-jwt-signer", "corp", "--no-browser", "-y", code=1)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.output and "--idp-ca FILE" in untrusted.output
    assert not (cli.config_dir / CONFIG_FILE_NAME).exists()


async def test_refusing_provider_and_state_mismatch_refused_and_nothing_saved(cli: Cli, controller, admin, idp):
    await _signer(admin, idp, "corp", "ACCESS")
    await create(admin, "identities", {"name": "alice", "type": "User", "externalId": "alice", "isAdmin": True})
    args = (controller.url, "--ext-jwt-signer", "corp", "-y", "--idp-ca", str(idp.ca_path))

    idp.grants.approve = None
    async with Login(cli.config_dir, *args) as login:
        await _browse(await login.url(), idp)
        code, output = await login.finish()
    assert code == 1 and "refused the login: access_denied" in output and "Traceback" not in output

    idp.grants.approve = "alice"
    async with Login(cli.config_dir, *args) as login:
        redirect = parse_qs(urlsplit(await login.url()).query)["redirect_uri"][0]
        async with httpx.AsyncClient() as forger:
            await forger.get(redirect, params={"code": "stolen", "state": "not-this-login"})
        code, output = await login.finish()
    assert code == 1 and "state" in output and "Traceback" not in output
    assert not (cli.config_dir / CONFIG_FILE_NAME).exists()
