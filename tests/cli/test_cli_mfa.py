"""``ziti-aio create|delete mfa``, ``login --totp`` and the ``auth-policy`` nouns, against a real controller."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import trio
from cli_helpers import Cli, created_id

from ziti_aio.cli.config_file import CONFIG_DIR_ENV
from ziti_aio.controller.kinds import Kind
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, MANAGEMENT, create

PASSWORD = "cli-mfa-password"


async def enroll_as_a_user_would(cli: Cli) -> tuple[pyotp.TOTP, str]:
    """``ziti-aio create mfa`` in a process of its own: read the URI it prints, type the code it asks for."""
    env = {**os.environ, CONFIG_DIR_ENV: str(cli.config_dir), "PYTHONUNBUFFERED": "1"}
    process = await trio.lowlevel.open_process([sys.executable, "-m", "ziti_aio", "create", "mfa"],
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    output = b""
    try:
        with trio.fail_after(30):
            while b"TOTP code" not in output:
                chunk = await process.stdout.receive_some()
                assert chunk, f"ziti-aio create mfa ended early: {output!r}"
                output += chunk
            url = re.search(r"otpauth://\S+", output.decode()).group(0)
            totp = pyotp.TOTP(parse_qs(urlsplit(url).query)["secret"][0])
            await process.stdin.send_all(totp.generate_otp(totp.timecode(time.time()) - 1).encode() + b"\n")
            while chunk := await process.stdout.receive_some():
                output += chunk
            assert await process.wait() == 0, output
    finally:
        process.kill()
        await process.wait()
    return totp, output.decode()


async def test_enroll_login_with_totp_and_removal(cli, controller, admin, tmp_path):
    alice = await create(admin, "identities", {"name": "alice", "type": "User"})
    await create(admin, "authenticators", {"method": "updb", "identityId": alice, "username": "alice",
                                           "password": PASSWORD})
    await cli("login", controller.url, "-u", "alice", "-p", PASSWORD, "-y")
    model = controller.controller.model
    totp, output = await enroll_as_a_user_would(cli)
    assert "MFA enrolled" in output
    recovery = model.owned_by(Kind.MFAS, alice)[0]["recoveryCodes"]
    assert " ".join(recovery) in output
    step = totp.timecode(time.time())

    refused = await cli("login", controller.url, "-u", "alice", "-p", PASSWORD, code=1)
    assert "--totp" in refused.stderr
    wrong = await cli("login", controller.url, "-u", "alice", "-p", PASSWORD, "--totp", "000000", code=1)
    assert "MFA_INVALID_TOKEN" in wrong.stderr
    await cli("login", controller.url, "-u", "alice", "-p", PASSWORD, "--totp", totp.generate_otp(step))
    token = json.loads((cli.config_dir / "cli.json").read_text())["token"]
    async with controller.client(token=token) as saved:
        assert (await saved.get(f"{MANAGEMENT}/current-identity")).status_code == 200, "a full session was saved"

    operator = Cli(tmp_path / "admin-cli")
    await operator("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    result = await operator("delete", "mfa", "alice")
    assert "removed the MFA of identity alice" in result.output
    assert model.owned_by(Kind.MFAS, alice) == []
    await cli("login", controller.url, "-u", "alice", "-p", PASSWORD)

    await cli("create", "mfa", "--code", "000000", code=1)
    assert model.owned_by(Kind.MFAS, alice) == [], "a failed verification leaves no enrollment behind"
    totp, _ = await enroll_as_a_user_would(cli)
    result = await cli("delete", "mfa", "--code", totp.generate_otp(totp.timecode(time.time())))
    assert "removed the MFA of your identity" in result.output
    assert model.owned_by(Kind.MFAS, alice) == []


async def test_auth_policy_nouns(logged_in, admin):
    result = await logged_in("create", "auth-policy", "strict", "--primary-updb-max-attempts", "3",
                             "--primary-updb-min-length", "10", "--secondary-req-totp", "--no-primary-cert-allowed")
    ident = created_id(result, "auth policy", "strict")
    policy = (await admin.get(f"{MANAGEMENT}/auth-policies/{ident}")).json()["data"]
    assert policy["primary"]["updb"]["maxAttempts"] == 3 and policy["primary"]["updb"]["minPasswordLength"] == 10
    assert policy["primary"]["cert"]["allowed"] is False and policy["secondary"]["requireTotp"] is True
    assert policy["primary"]["updb"]["allowed"] is True, "what no flag names stays as in the default policy"

    await logged_in("update", "auth-policy", "strict", "--primary-cert-allowed=true", "--secondary-req-totp=false")
    policy = (await admin.get(f"{MANAGEMENT}/auth-policies/{ident}")).json()["data"]
    assert policy["primary"]["cert"]["allowed"] is True and policy["secondary"]["requireTotp"] is False
    assert policy["primary"]["updb"]["maxAttempts"] == 3

    listed = await logged_in("list", "auth-policies")
    assert "strict" in listed.output and "Default" in listed.output
    await logged_in("create", "identity", "bound")
    await logged_in("update", "identity", "bound", "--auth-policy", "strict")
    bound = (await admin.get(f"{MANAGEMENT}/identities", params={"filter": 'name="bound"'})).json()["data"][0]
    assert bound["authPolicyId"] == ident
    busy = await logged_in("delete", "auth-policy", "strict", code=1)
    assert "CONFLICT" in busy.stderr
    await logged_in("delete", "identity", "bound")
    await logged_in("delete", "auth-policy", "strict")
    assert (await admin.get(f"{MANAGEMENT}/auth-policies/{ident}")).status_code == 404
