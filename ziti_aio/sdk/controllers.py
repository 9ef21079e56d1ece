"""The controllers of a cluster as the SDK sees them (docs/ha.md, "SDKs and the cluster"): the members'
client API addresses from ``GET /controllers``, and a URL moved to another member."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ziti_aio.common import api_paths

MAX_MEMBERS = 32


def member_urls(items: list[Any], current: str) -> list[str]:
    """The base URLs (``https://host:port``) of the members' client APIs, ``current`` first; what does
    not parse is left out."""
    out = [current]
    for item in items[:MAX_MEMBERS]:
        apis = item.get("apiAddresses") if isinstance(item, dict) else None
        addresses = apis.get("edge-client") if isinstance(apis, dict) else None
        for address in addresses if isinstance(addresses, list) else ():
            url = address.get("url") if isinstance(address, dict) else None
            if isinstance(url, str) and url.startswith("https://") and url.endswith(api_paths.CLIENT):
                base = url.removesuffix(api_paths.CLIENT)
                if base not in out:
                    out.append(base)
    return out


def moved(url: str, base: str) -> str:
    """``url`` (an absolute URL of one member) at the member whose base URL is ``base``."""
    old, new = urlsplit(url), urlsplit(base)
    return urlunsplit((new.scheme, new.netloc, old.path, old.query, old.fragment))
