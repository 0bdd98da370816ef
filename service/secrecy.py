"""What production refuses as a secret, and ``MODELMON_*`` variables no setting reads. Pure.

A leaf module: :mod:`service.config` asks it, nothing here reads the environment by itself.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterable, Mapping

# Used only outside production (production refuses it). It is public — it is in this file —
# so development pseudonyms protect nothing; they only behave like real ones.
DEVELOPMENT_PSEUDONYM_KEY = "modelmon-development-pseudonym-key-not-secret"
# The same for the key that encrypts webhook signing secrets (service/webhooks/sealing.py).
DEVELOPMENT_SECRET_KEY = "modelmon-development-secret-key-not-secret"

# Passwords printed in docker-compose.yml, docker/postgres-init/, the chart's values and the docs,
# and the usual defaults: anyone who has read them knows them.
PUBLIC_PASSWORDS = frozenset(
    {
        "",
        "postgres",
        "password",
        "modelmon",
        "changeme",
        "secret",
        "pw",
        "dev-only-insecure",
        "dev-only-insecure-app",
    }
)

# Estimated strength a key must have: 100 bits is out of reach of offline guessing (2^100
# HMACs), and `openssl rand -hex 32` scores ~250 here, a random 32-character hex string ~115.
MIN_KEY_BITS = 100.0
# A database password is only tried online, through Postgres's authentication: 50 bits
# (a random 10-character alphanumeric password scores ~33, 16 characters ~60).
MIN_PASSWORD_BITS = 50.0

# Variables of the modelmon client and of the test suite, not settings of the service; a shell
# that runs both (README: `export MODELMON_KEY=...`) must not stop the service.
CLIENT_VARIABLES = frozenset({"MODELMON_KEY", "MODELMON_URL", "MODELMON_TEST_POSTGRES_URL"})


def estimated_bits(secret: str) -> float:
    """``len(secret) · H`` with ``H = −Σ p_c · log2 p_c`` over the secret's own character
    frequencies, in bits. An upper bound of its strength: 40 identical characters score 0,
    "abab…" 1 bit per character; it cannot see dictionary words."""
    if not secret:
        return 0.0
    counts = Counter(secret).values()
    entropy = -sum(count / len(secret) * math.log2(count / len(secret)) for count in counts)
    return max(0.0, len(secret) * entropy)


def weak_key_reason(secret: str) -> str | None:
    """Why ``secret`` is too weak for a key (pseudonym, admin, secret key); None when it is not."""
    if secret in (DEVELOPMENT_PSEUDONYM_KEY, DEVELOPMENT_SECRET_KEY):
        return "is a public development key (it is in modelmon's source)"
    return _weak(secret, MIN_KEY_BITS)


def weak_password_reason(password: str | None) -> str | None:
    """Why a database password is refused: missing, public, or too weak; None when it is not."""
    if password is None or password in PUBLIC_PASSWORDS:
        return "has no password or a public one (a default, or a sample from compose, the chart or the docs)"
    return _weak(password, MIN_PASSWORD_BITS)


def _weak(secret: str, minimum: float) -> str | None:
    bits = estimated_bits(secret)
    if bits >= minimum:
        return None
    distinct = len(set(secret))
    return (
        f"is too weak: {distinct} distinct characters in {len(secret)}, about {bits:.0f} bits "
        f"(at least {minimum:.0f}; e.g. `openssl rand -hex 32`)"
    )


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """One line per ``MODELMON_*`` variable that is neither a setting nor a client variable,
    naming the closest setting (a typo such as MODELMON_ENVIRONMENT for MODELMON_ENV)."""
    names = sorted(name.upper() for name in known)
    lines = []
    for variable in sorted(environ):
        if not variable.startswith("MODELMON_") or variable in CLIENT_VARIABLES:
            continue
        name = variable.removeprefix("MODELMON_")
        if name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6) or _prefixed(name, names)
        hint = f"; did you mean MODELMON_{close[0]}?" if close else ""
        lines.append(f"{variable} is not a setting of modelmon{hint}")
    return lines


def _prefixed(name: str, names: list[str]) -> list[str]:
    return [known for known in names if name.startswith(known) or known.startswith(name)][:1]
