"""Generic single-page application hosting: ``[[controller.spa]]`` serves a directory under a URL path
(docs/console.md §SPA hosting).

A path naming a file inside the directory gets that file, with its content type and a caching header
(long-lived for fingerprinted assets under ``assets/`` or ``static/``, revalidated otherwise); any other
path without a file extension gets ``index.html`` (history-API routing); anything else is 404. Paths are
resolved and must stay inside the directory: ``..``, encoded or not, and symbolic links leading out are
404. A directory is never listed.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import trio
from quart import Blueprint, Response, request

from ziti_aio.controller.console.security import harden

if TYPE_CHECKING:
    from ziti_aio.common.spa_config import SpaSite

INDEX = "index.html"
IMMUTABLE_DIRS = ("assets", "static")
MAX_FILE_BYTES = 64 * 1024 * 1024
SPA_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
EXTRA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".json": "application/json",
               ".svg": "image/svg+xml", ".wasm": "application/wasm", ".webmanifest": "application/manifest+json",
               ".woff2": "font/woff2", ".map": "application/json"}


def content_type(path: Path) -> str:
    found = EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{found}; charset=utf-8" if found.startswith("text/") else found


def locate(root: Path, sub: str) -> tuple[Path | None, bool]:
    """The file ``sub`` names inside ``root`` (resolved), and whether the index fallback applies instead."""
    parts = PurePosixPath(sub).parts
    if "\x00" in sub or any(part in ("..", ".") or "\\" in part for part in parts) or sub.startswith("/"):
        return None, False
    candidate = (root / sub).resolve() if sub else root
    if candidate != root and root not in candidate.parents:
        return None, False  # a symbolic link out of the directory
    if candidate.is_file():
        return candidate, False
    if candidate.is_dir():
        return None, True  # never a listing: the application's own page
    last = parts[-1] if parts else ""
    return None, "." not in last


def spa_blueprint(site: SpaSite, n: int) -> Blueprint:
    """The routes of one SPA (``n``: its index in node.toml, for a unique blueprint name)."""
    bp = Blueprint(f"spa{n}", __name__)
    root = Path(site.dir).resolve()

    async def serve(sub: str = "") -> Response:
        if request.method not in ("GET", "HEAD"):
            return _not_found()
        raw = request.scope.get("raw_path", b"").decode("latin-1")
        if "%2e" in raw.lower() or "%2f" in raw.lower() or "%5c" in raw.lower():
            return _not_found()  # encoded dots and slashes are never part of an application path
        path, fallback = await trio.to_thread.run_sync(locate, root, sub)
        if path is None and fallback:
            path = root / INDEX
        if path is None:
            return _not_found()
        return await _file(path, immutable=bool(sub) and sub.split("/", 1)[0] in IMMUTABLE_DIRS and path.name != INDEX)

    bp.add_url_rule(site.path, "root", serve, methods=["GET", "HEAD"])
    bp.add_url_rule(site.path + "/", "index", serve, methods=["GET", "HEAD"])
    bp.add_url_rule(site.path + "/<path:sub>", "file", serve, methods=["GET", "HEAD"])
    return bp


async def _file(path: Path, *, immutable: bool) -> Response:
    def read() -> bytes | None:
        try:
            return None if os.path.getsize(path) > MAX_FILE_BYTES else path.read_bytes()
        except OSError:
            return None

    data = await trio.to_thread.run_sync(read)
    if data is None:
        return _not_found()
    etag = hashlib.sha256(data).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response("", status=304)
    else:
        response = Response(data, content_type=content_type(path))
    response.set_etag(etag)
    response.headers["Content-Security-Policy"] = SPA_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if immutable else "no-cache"
    return response


def _not_found() -> Response:
    return harden(Response("not found", status=404, content_type="text/plain; charset=utf-8"))
