"""What the SDK takes from ``GET /controllers`` (docs/ha.md, "SDKs and the cluster")."""

from __future__ import annotations

from ziti_aio.sdk.controllers import member_urls, moved


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
