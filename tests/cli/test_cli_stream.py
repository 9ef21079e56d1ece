"""``ziti-aio stream events``: follows the controller's event stream live, as JSON or as text lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import trio
from test_cli_imports import invoking, loaded_after

from ziti_aio.cli.config_file import CONFIG_DIR_ENV
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME


@pytest.fixture
async def net(tmp_path):
    async with open_network(tmp_path / "net", routers=1) as network:
        yield network


async def lines_of(process: trio.Process, wanted: int) -> list[str]:
    """The first ``wanted`` lines the process prints."""
    buffer = b""
    with trio.fail_after(20):
        while buffer.count(b"\n") < wanted:
            chunk = await process.stdout.receive_some()
            assert chunk, f"the stream ended: {buffer!r}"
            buffer += chunk
    return buffer.decode().splitlines()[:wanted]


async def follow(cli, *args: str) -> trio.Process:
    env = {**os.environ, CONFIG_DIR_ENV: str(cli.config_dir), "PYTHONUNBUFFERED": "1"}
    return await trio.lowlevel.open_process([sys.executable, "-m", "ziti_aio", "stream", "events", *args],
                                            stdout=subprocess.PIPE, env=env)


async def test_stream_events_follows_entity_changes(cli, net):
    await cli("login", net.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    as_json = await follow(cli, "--types", "entityChange", "-j")
    as_text = await follow(cli, "-t", "entityChange")
    try:
        async def streaming() -> bool:
            return len(net.controller.controller.events.subscriptions) == 2

        await wait_until(streaming, 20, what="both streams subscribed")
        await net.create_service("watched")
        [line] = await lines_of(as_json, 1)
        event = json.loads(line)
        assert event["namespace"] == "entityChange" and event["eventType"] == "created"
        assert event["entityType"] == "services" and event["finalState"]["name"] == "watched"
        [text] = await lines_of(as_text, 1)
        assert text.endswith("entityChange created services watched"), text
    finally:
        for process in (as_json, as_text):
            process.kill()
            await process.wait()


async def test_stream_events_refuses_an_unknown_type(cli, net):
    await cli("login", net.controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    result = await cli("stream", "events", "--types", "circuits", code=1)
    assert "refused the event stream (HTTP 400)" in result.output and "circuits" in result.output


async def test_stream_events_needs_a_login(cli):
    result = await cli("stream", "events", code=1)
    assert "not logged in" in result.output


def test_stream_loads_no_role(tmp_path):
    assert loaded_after(invoking("stream", "events", exit_code=1), {"ZITI_AIO_CONFIG_DIR": str(tmp_path)}) == []
