"""Settings of a single-page application the controller serves (docs/console.md §SPA hosting); shared by
``node.toml`` parsing and the controller without either importing the other."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# First path segments the controller's own routes (and the client API's root aliases, docs/edge-api.md §1.1) use.
RESERVED_SEGMENTS = frozenset({
    "edge", "fabric", ".well-known", "health-checks", "metrics", "oidc", "console", "version", "authenticate",
    "current-identity", "current-api-session", "services", "sessions", "enroll", "enrollments", "protocols",
    "specs", "posture-response", "posture-responses", "service-updates", "external-jwt-signers",
})
_PATH = re.compile(r"(/[A-Za-z0-9][A-Za-z0-9._~-]{0,63}){1,8}")


@dataclass(frozen=True)
class SpaSite:
    """``[[controller.spa]]``: the files of ``dir`` served under the URL path ``path``."""

    path: str
    dir: Path


def spa_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an SPA's URL path (``None`` when it can)."""
    if not _PATH.fullmatch(path):
        return "must look like /my-ui (slash-separated letters, digits, '.', '_', '~', '-'; no trailing slash)"
    if path.split("/")[1].lower() in RESERVED_SEGMENTS:
        return f"must not start with /{path.split('/')[1]}, which the controller serves itself"
    return None
