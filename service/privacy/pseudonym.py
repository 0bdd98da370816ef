"""Subject ids are pseudonymised before storage with a keyed hash. Pure.

pseudonym = "sub_" + hex(HMAC-SHA256(key, subject_id))[:32]: 128 bits, so two subjects collide
with probability ~n²/2^129 (negligible for any n a service stores). Without the key, a stored
pseudonym cannot be linked back to an id, even by trying every plausible id (which a plain
hash would allow: national ids and account numbers are few enough to enumerate).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from service.config import Environment, Settings
from service.secrecy import DEVELOPMENT_PSEUDONYM_KEY

PSEUDONYM_MARK = "sub_"
# Used only outside production (production refuses to start without MODELMON_PSEUDONYM_KEY,
# and refuses this key as MODELMON_PSEUDONYM_KEY).
DEVELOPMENT_KEY = DEVELOPMENT_PSEUDONYM_KEY


def pseudonymiser(secret: str) -> Callable[[str], str]:
    key = secret.encode()

    def pseudonymise(subject_id: str) -> str:
        digest = hmac.new(key, subject_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return PSEUDONYM_MARK + digest[:32]

    return pseudonymise


def settings_pseudonymiser(settings: Settings) -> Callable[[str], str]:
    if settings.pseudonym_key is not None:
        return pseudonymiser(settings.pseudonym_key.get_secret_value())
    assert settings.env is not Environment.PRODUCTION, "production refuses to start without a pseudonym key"
    return pseudonymiser(DEVELOPMENT_KEY)
