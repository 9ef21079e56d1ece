"""``[[controller.spa]]``: a directory served under a path with history-API fallback, content types, caching,
no listing, no way out of the directory; node.toml validation of the table (plain HTTPS, no browser)."""

from __future__ import annotations

import os
import tomllib
from typing import TYPE_CHECKING

import pytest

from ziti_aio.appliance.node_config import parse_node_config, render_node_config
from ziti_aio.appliance.validate import check_node
from ziti_aio.common.errors import ConfigError
from ziti_aio.common.spa_config import SpaSite
from ziti_aio.testing.controller import open_controller

if TYPE_CHECKING:
    import httpx

SECRET = "top secret content"
INDEX = b"<!doctype html><title>my ui</title><div id=app></div>"
OUT_OF_BOUNDS = [
    "/my-ui/../secret.txt",
    "/my-ui/%2e%2e/secret.txt",
    "/my-ui/%2E%2E/secret.txt",
    "/my-ui/..%2fsecret.txt",
    "/my-ui/assets/%2e%2e/%2e%2e/secret.txt",
    "/my-ui/assets/..%5c..%5csecret.txt",
    "/my-ui/link-out.txt",
    "/my-ui/dir-out/secret.txt",
    "/my-ui/%00.js",
    "/my-ui/missing.png",
    "/my-ui/assets/missing.js",
]


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "ui"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "app.3f2a.js").write_text("console.log('hi')")
    (root / "assets" / "app.css").write_text("body{}")
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    os.symlink(tmp_path / "secret.txt", root / "link-out.txt")
    os.symlink(outside, root / "dir-out")
    return root


@pytest.fixture
async def spa_client(tmp_path, site):
    async with open_controller(tmp_path / "ctrl", spa=(SpaSite("/my-ui", site),)) as running, \
            running.client() as client:
        yield client


def _raw(client: httpx.AsyncClient, path: str) -> httpx.Request:
    """A GET of ``path`` exactly as written (httpx would otherwise resolve dot segments)."""
    request = client.build_request("GET", "/")
    request.url = request.url.copy_with(raw_path=path.encode())
    return request


async def test_files_fallback_types_and_caching(spa_client):
    index = await spa_client.get("/my-ui/")
    assert index.status_code == 200 and index.content == INDEX
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "no-cache"
    for route in ("/my-ui", "/my-ui/users/42", "/my-ui/settings/profile", "/my-ui/assets"):
        deep = await spa_client.get(route)
        assert (deep.status_code, deep.content) == (200, INDEX), route  # history-API routes and directories
    script = await spa_client.get("/my-ui/assets/app.3f2a.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert script.headers["x-content-type-options"] == "nosniff"
    assert (await spa_client.get("/my-ui/assets/app.css")).headers["content-type"] == "text/css; charset=utf-8"
    svg = await spa_client.get("/my-ui/logo.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and svg.headers["cache-control"] == "no-cache"
    again = await spa_client.get("/my-ui/logo.svg", headers={"if-none-match": svg.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", OUT_OF_BOUNDS)
async def test_nothing_outside_the_directory_and_no_missing_file(spa_client, path):
    answer = await spa_client.send(_raw(spa_client, path))
    assert answer.status_code == 404, path
    assert SECRET.encode() not in answer.content and answer.content != INDEX


async def test_the_apis_are_unchanged_next_to_an_spa(spa_client):
    version = await spa_client.get("/version")  # a client-API root alias (docs/edge-api.md §1.1)
    assert version.status_code == 200 and "apiVersions" in version.json()["data"]
    assert (await spa_client.get("/my-uix")).status_code == 404


def test_node_toml_spa_tables(tmp_path, site):
    data = {"home": str(tmp_path), "controller": {"address": "127.0.0.1", "spa": [{"path": "/my-ui", "dir": "ui"}]}}
    cfg = parse_node_config(data, base=tmp_path)
    assert cfg.controller is not None and cfg.controller.spa == (SpaSite("/my-ui", tmp_path / "ui"),)
    assert cfg.controller.console is True
    check_node(cfg, "node.toml")
    assert parse_node_config(tomllib.loads(render_node_config(cfg)), base=tmp_path) == cfg


@pytest.mark.parametrize(("table", "message"), [
    ({"path": "/my-ui", "dir": "nowhere"}, "controller.spa[0].dir '{tmp}/nowhere' is not a directory"),
    ({"path": "/my-ui", "dir": "empty"}, "controller.spa[0].dir '{tmp}/empty' has no index.html"),
])
def test_a_bad_spa_dir_is_a_start_up_error_naming_the_key(tmp_path, table, message):
    (tmp_path / "empty").mkdir()
    cfg = parse_node_config({"home": str(tmp_path), "controller": {"address": "127.0.0.1", "spa": [table]}},
                            base=tmp_path)
    with pytest.raises(ConfigError) as refused:
        check_node(cfg, "node.toml")
    assert message.format(tmp=tmp_path) in str(refused.value)


@pytest.mark.parametrize(("path", "why"), [
    ("my-ui", "must look like /my-ui"),
    ("/my-ui/", "must look like /my-ui"),
    ("/a/../b", "must look like /my-ui"),
    ("/console", "must not start with /console"),
    ("/edge/ui", "must not start with /edge"),
    ("/services", "must not start with /services"),
])
def test_a_bad_spa_path_is_refused(tmp_path, path, why):
    data = {"home": str(tmp_path), "controller": {"address": "127.0.0.1", "spa": [{"path": path, "dir": "."}]}}
    with pytest.raises(ConfigError) as refused:
        parse_node_config(data, base=tmp_path)
    assert f"controller.spa[0].path {path!r} {why}" in str(refused.value)
