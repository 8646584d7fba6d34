"""Bearer tokens: minted from the OS's CSPRNG, stored and looked up only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
#: A minted token's length in characters (URL-safe base64 of ``TOKEN_BYTES``).
TOKEN_LENGTH = 43
MAX_TOKEN_LENGTH = 512


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe text. Shown once, never stored."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The hex SHA-256 of ``token``: what the store keeps and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
