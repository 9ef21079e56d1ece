"""The controllers of a cluster as the SDK sees them (docs/ha.md, "SDKs and the cluster"): the members'
client API addresses from ``GET /controllers``, a URL moved to another member, and the members kept in
the identity file (``ztAPIs``) for the next start."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ziti_aio.common import api_paths

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

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


def remember_members(identity_path: Path, urls: list[str]) -> None:
    """Write the members' client API URLs into the identity file's ``ztAPIs`` (as OpenZiti's tunnelers keep
    the controllers they learn), so that a start whose ``ztAPI`` is down logs in at another member. The
    file is replaced whole (same mode) or left as it was; a failure is logged, not raised."""
    wanted = [base + api_paths.CLIENT for base in urls]
    try:
        doc = json.loads(identity_path.read_text())
        if not isinstance(doc, dict) or doc.get("ztAPIs") == wanted:
            return
        doc["ztAPIs"] = wanted
        mode = identity_path.stat().st_mode & 0o777
        fd, tmp = tempfile.mkstemp(dir=identity_path.parent, prefix=f".{identity_path.name}.")
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(doc, file, indent=2)
            os.chmod(tmp, mode)
            os.replace(tmp, identity_path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError) as exc:
        log.info("cannot keep the controllers in %s: %s", identity_path, exc)
