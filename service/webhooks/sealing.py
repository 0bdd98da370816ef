"""Webhook signing secrets encrypted at rest: AES-256-GCM under a key from the settings.

key = HKDF-SHA256(MODELMON_SECRET_KEY, salt = none, info = "modelmon webhook secrets v1"),
32 bytes; stored = "enc1:" + base64url(nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)).
A random 96-bit nonce per secret is safe for up to ~2^32 encryptions under one key (NIST
SP 800-38D), far beyond the secrets one service creates. The endpoint's id is the
associated data, so a secret copied onto another endpoint's row does not decrypt.

A database dump, a read replica or a backup therefore no longer lets whoever holds it sign
webhooks; someone with both the dump and MODELMON_SECRET_KEY still can.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from service.config import Settings
from service.secrecy import DEVELOPMENT_SECRET_KEY

MARK = "enc1:"
NONCE_BYTES = 12


class UnreadableSecret(RuntimeError):
    """A stored secret that does not decrypt: MODELMON_SECRET_KEY changed, or the row was altered."""


class Sealer:
    def __init__(self, secret_key: str) -> None:
        derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"modelmon webhook secrets v1")
        self._aead = AESGCM(derive.derive(secret_key.encode()))

    def seal(self, secret: str, endpoint_id: int) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), _associated(endpoint_id))
        return MARK + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, endpoint_id: int) -> str:
        """The secret; a row written before encryption (no mark) is returned as it is until
        ``modelmon migrate`` seals it."""
        if not is_sealed(stored):
            return stored
        raw = base64.urlsafe_b64decode(stored.removeprefix(MARK))
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(endpoint_id))
        except InvalidTag:
            raise UnreadableSecret(
                f"the signing secret of webhook endpoint {endpoint_id} does not decrypt: MODELMON_SECRET_KEY "
                "differs from the one it was sealed with (rotate the endpoint's secret)"
            ) from None
        return plain.decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(MARK)


def _associated(endpoint_id: int) -> bytes:
    return f"webhook-endpoint:{endpoint_id}".encode()


@functools.lru_cache(maxsize=4)
def _sealer(secret_key: str) -> Sealer:
    return Sealer(secret_key)


def sealer_for(settings: Settings) -> Sealer:
    """The sealer of ``settings.secret_key``; when unset (development only: production refuses
    to start without it) the public development key, which protects nothing."""
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else None
    return _sealer(key or DEVELOPMENT_SECRET_KEY)
