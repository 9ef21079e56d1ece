"""Entity ids: short, URL-safe and random, like OpenZiti's shortid-style ids."""

from __future__ import annotations

import secrets
import uuid

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ID_LENGTH = 10


def new_id() -> str:
    """A fresh random id (10 characters from [0-9a-zA-Z], about 59 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))


def new_token() -> str:
    """A fresh random UUID string for one-time tokens (enrollment ``jti``)."""
    return str(uuid.uuid4())
