"""The CLI's saved login: ``{url, token, ca}`` (with ``refresh_token`` and ``token_endpoint`` after an OIDC
login) in ``$ZITI_AIO_CONFIG_DIR/cli.json`` (mode 0600, dir 0700); a login over the overlay (a dark management
plane) adds ``identity`` (the identity file's path) and ``service``."""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIG_DIR_ENV = "ZITI_AIO_CONFIG_DIR"
CONFIG_FILE_NAME = "cli.json"
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SavedLogin:
    """Where the controller is, the API session token (or OIDC access token), the CA PEM trusted for it (may
    be empty), for an OIDC login the refresh token and where to use it; over the overlay, the identity file
    that dials ``service`` (each command logs in with it afresh)."""

    url: str
    token: str
    ca: str
    refresh_token: str = ""
    token_endpoint: str = ""
    identity: str = ""
    service: str = ""

    @property
    def overlay(self) -> bool:
        return bool(self.identity)


def config_path() -> Path:
    """``$ZITI_AIO_CONFIG_DIR/cli.json``, or ``~/.config/ziti-aio/cli.json``."""
    base = os.environ.get(CONFIG_DIR_ENV)
    directory = Path(base) if base else Path.home() / ".config" / "ziti-aio"
    return directory / CONFIG_FILE_NAME


def load_login() -> SavedLogin | None:
    """The saved login, or ``None`` when there is none or the file is unreadable."""
    path = config_path()
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("url", "token", "ca")):
        return None
    extra = {k: raw[k] for k in ("refresh_token", "token_endpoint", "identity", "service")
             if isinstance(raw.get(k), str)}
    return SavedLogin(url=raw["url"], token=raw["token"], ca=raw["ca"], **extra)


def save_login(login: SavedLogin) -> Path:
    """Write ``login`` atomically with owner-only permissions; returns the file's path."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(login), out, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def forget_login() -> bool:
    """Remove the saved login; ``True`` if there was one."""
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True


def seconds_left(token: str) -> float | None:
    """The life left of a JWT by its unverified ``exp`` (``None`` if it is not a JWT with one): whether a
    saved OIDC access token needs a refresh, decided without loading a JWT library on every command."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(claims["exp"]) - time.time()
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
