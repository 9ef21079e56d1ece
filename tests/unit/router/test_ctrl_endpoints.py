"""The endpoints file of a router in a cluster (docs/ha.md, "Routers and the cluster")."""

from __future__ import annotations

import json

from ziti_aio.router.ctrls import MAX_ENDPOINTS, load_endpoints
from ziti_aio.router.enroll import RouterHome


def _home(tmp_path, content: str | None) -> RouterHome:
    if content is not None:
        (tmp_path / "endpoints.json").write_text(content)
    return RouterHome(tmp_path, "r1", "r1", "tls:ctrl1:1280")


def test_saved_endpoints_are_read_back(tmp_path):
    saved = ["tls:ctrl1:1280", "tls:[::1]:1281"]
    assert load_endpoints(_home(tmp_path, json.dumps({"endpoints": saved}))) == saved


def test_a_missing_or_broken_file_gives_no_endpoints(tmp_path):
    assert load_endpoints(_home(tmp_path, None)) == []
    assert load_endpoints(_home(tmp_path, "{not json")) == []
    assert load_endpoints(_home(tmp_path, json.dumps(["tls:ctrl1:1280"]))) == []
    assert load_endpoints(_home(tmp_path, json.dumps({"endpoints": "tls:ctrl1:1280"}))) == []


def test_addresses_that_do_not_parse_are_left_out_and_the_list_is_bounded(tmp_path):
    listed = ["http://ctrl1:1280", "tls:ctrl2", 7, None, "tls:ctrl3:port", "tls:ctrl4:1280"]
    assert load_endpoints(_home(tmp_path, json.dumps({"endpoints": listed}))) == ["tls:ctrl4:1280"]
    many = [f"tls:ctrl{n}:1280" for n in range(MAX_ENDPOINTS + 5)]
    assert len(load_endpoints(_home(tmp_path, json.dumps({"endpoints": many})))) == MAX_ENDPOINTS
