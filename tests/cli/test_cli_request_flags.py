"""ziti's request flags on create/update/delete/list: -j, --output-request-json, --timeout, -t/--tags."""

import json

import trio
from cli_helpers import find


def _json_documents(text: str) -> list[object]:
    """The JSON documents printed one after another in ``text`` (other lines skipped)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while (start := text.find("{", index)) != -1:
        value, index = decoder.raw_decode(text, start)
        found.append(value)
    return found


async def test_tags_on_create_and_update(logged_in, admin):
    await logged_in("create", "service", "tagged", "-t", "env=dev", "--tags", "team=a,tier=1")
    assert (await find(admin, "services", "tagged"))["tags"] == {"env": "dev", "team": "a", "tier": "1"}

    await logged_in("update", "service", "tagged", "--tags", "env=prod")
    assert (await find(admin, "services", "tagged"))["tags"] == {"env": "prod"}

    # -t is --tunneler-enabled here, as in ziti: tags are --tags only
    await logged_in("create", "edge-router", "r1", "-t", "--tags", "site=lab")
    router = await find(admin, "edge-routers", "r1")
    assert (router["tags"], router["isTunnelerEnabled"]) == ({"site": "lab"}, True)

    result = await logged_in("create", "service", "bad-tags", "--tags", "novalue", code=2)
    assert "'--tags'" in result.output and "key=value" in result.output
    assert await find(admin, "services", "bad-tags") is None


async def test_output_json_replaces_the_summary(logged_in, admin):
    result = await logged_in("create", "identity", "alice", "-j")
    [answer] = _json_documents(result.output)
    assert answer["data"]["id"] == (await find(admin, "identities", "alice"))["id"]
    assert "created with id" not in result.output

    result = await logged_in("update", "identity", "alice", "-a", "x", "--output-json")
    assert _json_documents(result.output) and "updated" not in result.output

    result = await logged_in("delete", "identity", "alice", "-j")
    assert _json_documents(result.output) and "deleted" not in result.output
    assert await find(admin, "identities", "alice") is None


async def test_output_request_json_prints_what_is_sent(logged_in):
    result = await logged_in("create", "config-type", "my.v1", "--output-request-json", "--tags", "k=v")

    [sent] = _json_documents(result.output)
    assert sent == {"name": "my.v1", "tags": {"k": "v"}}
    assert result.output.rstrip().endswith("created with id: " + result.output.split()[-1])


async def test_timeout_bounds_each_request(cli):
    """A controller that never answers: --timeout 1 gives up with one clean line (not after 30 s)."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")  # accepts in the kernel, never answers
    port = listeners[0].socket.getsockname()[1]
    cli.config_dir.mkdir()
    (cli.config_dir / "cli.json").write_text(json.dumps({"url": f"https://127.0.0.1:{port}", "token": "t", "ca": ""}))

    with trio.fail_after(20):
        result = await cli("list", "identities", "--timeout", "1", code=1)

    assert result.stderr.startswith("error: cannot reach https://127.0.0.1:") and "timed out" in result.stderr
    await cli("list", "identities", "--timeout", "0", code=2)
    for listener in listeners:
        await listener.aclose()
