"""Client commands start fast: they load neither the roles nor their web stack (issue 13)."""

import json
import os
import subprocess
import sys

HEAVY = ("quart", "hypercorn", "ziti_aio.controller", "ziti_aio.router", "ziti_aio.tunnel")


def loaded_after(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}).stdout
    return [name for name in json.loads(out.splitlines()[-1])
            if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY)]


def invoking(*argv: str, exit_code: int = 0) -> str:
    """Code that runs the CLI with ``argv`` in-process and checks its exit code."""
    return ("from typer.testing import CliRunner\nfrom ziti_aio.cli.main import app\n"
            f"result = CliRunner().invoke(app, {list(argv)!r})\n"
            f"assert result.exit_code == {exit_code}, result.output\n")


def test_importing_the_cli_loads_no_role():
    assert loaded_after("import ziti_aio.cli.main") == []


def test_a_list_command_loads_no_role(tmp_path):
    # not logged in: the command is parsed and run up to the saved-login check
    assert loaded_after(invoking("list", "services", exit_code=1), {"ZITI_AIO_CONFIG_DIR": str(tmp_path)}) == []


def test_help_still_lists_every_command():
    found = loaded_after(invoking("--help") + "for name in ('login', 'create', 'list', 'update', 'delete', "
                         "'enroll', 'pki', 'quickstart', 'run', 'tunnel'):\n    assert name in result.output\n"
                         "assert ' ls ' not in result.output\n")
    assert "ziti_aio.controller.controller" in found and "ziti_aio.tunnel.tunneler" in found


def test_a_saved_oidc_login_that_is_still_good_loads_no_http_library(tmp_path):
    # docs/oidc.md §6: the expiry is read without a JWT library; httpx comes only with a refresh
    (tmp_path / "cli.json").write_text(json.dumps({
        "url": "https://127.0.0.1:1", "token": "e30.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln", "ca": "",
        "refresh_token": "r", "token_endpoint": "https://127.0.0.1:1/oidc/oauth/token"}))
    probe = (invoking("list", "services", exit_code=1) +
             "import json, sys\nprint(json.dumps([m for m in sys.modules if m.split('.')[0] in ('httpx', 'jwt')]))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True,
                         env={**os.environ, "ZITI_AIO_CONFIG_DIR": str(tmp_path)}).stdout
    assert json.loads(out.splitlines()[-1]) == []
