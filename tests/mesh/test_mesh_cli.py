"""The CLI's fabric nouns: list/update links, list/delete circuits, transit routers, router costs."""

from __future__ import annotations

import json

import pytest
import trio
from mesh_net import three_routers
from typer.testing import CliRunner

from ziti_aio.cli.config_file import CONFIG_DIR_ENV
from ziti_aio.cli.main import app
from ziti_aio.sdk import open_context
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME


async def run(tmp_path, *args: str, code: int = 0) -> str:  # type: ignore[no-untyped-def]
    env = {CONFIG_DIR_ENV: str(tmp_path / "cli")}
    result = await trio.to_thread.run_sync(lambda: CliRunner().invoke(app, list(args), env=env))
    assert result.exit_code == code, f"exit {result.exit_code} for {args}: {result.output}{result.exception!r}"
    return result.output


async def test_links_circuits_and_router_costs_from_the_cli(tmp_path):
    async with three_routers(tmp_path) as net:
        await run(tmp_path, "login", net.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
        links = json.loads(await run(tmp_path, "list", "links", "-j"))["data"]
        assert len(links) == 3
        assert all({"id", "name"} <= set(lk["sourceRouter"]) and {"id", "name"} <= set(lk["destRouter"])
                   and {"state", "cost", "staticCost", "down"} <= set(lk) for lk in links)
        link_id = links[0]["id"]
        await run(tmp_path, "update", "link", link_id, "--down")
        assert (await net.get(f"links/{link_id}"))["down"] is True
        await run(tmp_path, "update", "link", link_id, "--down=false", "--static-cost", "70000")
        updated = await net.get(f"links/{link_id}")
        assert updated["down"] is False and updated["staticCost"] == 70000 and updated["cost"] >= 70000
        await run(tmp_path, "update", "link", link_id, "--down=maybe", code=2)
        assert "SOURCE" in await run(tmp_path, "list", "links")

        async with open_context(net.identities["host"].path) as host, \
                open_context(net.identities["dialer"].path) as dialer:
            listener = await host.bind("svc")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(listener.accept)
                stream = await dialer.dial("svc")
            [circuit] = json.loads(await run(tmp_path, "list", "circuits", "-j"))["data"]
            assert circuit["path"]["nodes"][0] == net.routers[0].id and circuit["path"]["links"]
            await run(tmp_path, "delete", "circuit", circuit["id"])
            with trio.fail_after(10), pytest.raises(trio.BrokenResourceError, match="administrator"):
                await stream.receive_some()
            assert await net.get("circuits") == []

        jwt_file = tmp_path / "t1.jwt"
        await run(tmp_path, "create", "transit-router", "t1", "-o", str(jwt_file))
        assert jwt_file.read_text().count(".") == 2
        listed = await run(tmp_path, "list", "transit-routers")
        assert " t1 " in listed and "results: 1-1 of 1" in listed
        await run(tmp_path, "update", "edge-router", "er2", "--cost", "100000", "--no-traversal", "--disabled")
        er2 = await net.get(f"edge-routers/{net.routers[1].id}")
        assert er2["cost"] == 100000 and er2["noTraversal"] is True and er2["disabled"] is True
