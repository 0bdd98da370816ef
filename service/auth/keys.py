"""API keys: generation, their public prefix, and the hash that is stored. Pure functions.

A key is ``mmk_`` + 8 prefix characters + 32 secret characters from a 62-letter alphabet:
32 × log2(62) ≈ 190 bits of secret. Keys are random at that strength, so one SHA-256 pass
is enough to store them (a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

KEY_MARK = "mmk_"
PREFIX_LENGTH = 8
SECRET_LENGTH = 32
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown once, never stored
    prefix: str  # public: ``mmk_`` + 8 characters, shown in listings and the audit log
    key_hash: str


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_key() -> NewKey:
    prefix = KEY_MARK + _random(PREFIX_LENGTH)
    key = prefix + _random(SECRET_LENGTH)
    return NewKey(key, prefix, hash_key(key))


def hash_key(key: str) -> str:
    """Hex SHA-256 of the key's UTF-8 bytes."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def prefix_of(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    if not key.startswith(KEY_MARK) or len(key) != len(KEY_MARK) + PREFIX_LENGTH + SECRET_LENGTH:
        return None
    return key[: len(KEY_MARK) + PREFIX_LENGTH]


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so response time does not leak how much of a key matched."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
