"""What a webhook URL shows to someone who may not call it: no credentials, no query values.

Receivers often authenticate modelmon by a token in the URL (``?token=…``, ``user:pass@``)
besides checking the signature. Read keys, the audit log (kept for good) and logs see the URL
through ``redacted_url``; only admins see it whole.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

PLACEHOLDER = "REDACTED"


def _host_and_port(netloc: str) -> str:
    """``netloc`` without ``user:password@``; the port is kept."""
    return netloc.rpartition("@")[2]


def redacted_url(url: str) -> str:
    """``url`` with scheme, host, port and path kept; userinfo and fragment dropped; each
    query value replaced by ``REDACTED`` (names kept, so a reader can tell which parameter a
    receiver expects). The path is kept as it is: a secret carried in a path segment is not
    recognisable and stays visible (docs/security.md)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{quote(name, safe='')}={PLACEHOLDER}" for name, _ in pairs)
    return urlunsplit((parts.scheme, _host_and_port(parts.netloc), parts.path, query, ""))
