"""Entity ids: short, URL-safe and random, like OpenZiti's shortid-style ids."""

from __future__ import annotations

import secrets
import uuid

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ID_LENGTH = 10
_UNBIASED = 256 - 256 % len(_ALPHABET)  # 248: bytes below it map evenly onto the alphabet


def new_id() -> str:
    """A fresh random id (10 characters from [0-9a-zA-Z], about 59 bits)."""
    chars: list[str] = []
    while len(chars) < ID_LENGTH:  # one urandom read, not one per character; bytes >= 248 skipped (no bias)
        chars += [_ALPHABET[b % len(_ALPHABET)] for b in secrets.token_bytes(2 * ID_LENGTH) if b < _UNBIASED]
    return "".join(chars[:ID_LENGTH])


def new_token() -> str:
    """A fresh random UUID string for one-time tokens (enrollment ``jti``)."""
    return str(uuid.uuid4())
