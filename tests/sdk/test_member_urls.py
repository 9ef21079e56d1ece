"""What the SDK takes from ``GET /controllers`` (docs/ha.md, "SDKs and the cluster")."""

from __future__ import annotations

import json

from ziti_aio.sdk.controllers import member_urls, moved, remember_members


def _member(url: object) -> dict:
    return {"id": "m", "apiAddresses": {"edge-client": [{"url": url, "version": "v1"}]}}


def test_the_members_client_api_addresses_current_first_without_duplicates():
    items = [_member("https://a:1280/edge/client/v1"), _member("https://b:1281/edge/client/v1"),
             _member("https://a:1280/edge/client/v1")]
    assert member_urls(items, "https://b:1281") == ["https://b:1281", "https://a:1280"]


def test_what_does_not_look_like_a_client_api_is_left_out():
    items = [_member("http://a:1280/edge/client/v1"), _member("https://b:1280/edge/management/v1"), _member(7),
             {"apiAddresses": "x"}, "not a member", {"id": "no addresses"}]
    assert member_urls(items, "https://c:1280") == ["https://c:1280"]


def test_a_url_moves_to_another_member_keeping_its_path():
    assert moved("https://a:1280/oidc/oauth/token?x=1", "https://b:1281") == "https://b:1281/oidc/oauth/token?x=1"


def test_the_members_are_kept_in_the_identity_file_beside_what_it_holds(tmp_path):
    path = tmp_path / "id.json"
    path.write_text(json.dumps({"ztAPI": "https://a:1280", "id": {"cert": "c"}}))
    path.chmod(0o600)
    remember_members(path, ["https://a:1280", "https://b:1281"])
    doc = json.loads(path.read_text())
    assert doc == {"ztAPI": "https://a:1280", "id": {"cert": "c"},
                   "ztAPIs": ["https://a:1280/edge/client/v1", "https://b:1281/edge/client/v1"]}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["id.json"]


def test_a_file_that_is_not_an_identity_is_left_as_it_was(tmp_path):
    path = tmp_path / "id.json"
    for text in ("{broken", "[1, 2]"):
        path.write_text(text)
        remember_members(path, ["https://a:1280", "https://b:1281"])
        assert path.read_text() == text
    remember_members(tmp_path / "absent.json", ["https://a:1280"])
    assert not (tmp_path / "absent.json").exists()
