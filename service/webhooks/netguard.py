"""Which URLs a webhook may be sent to: the SSRF guard.

A webhook URL is typed by whoever can call the API, and the worker that sends it sits
inside the operator's network. Without a guard, ``http://169.254.169.254/…`` (a cloud
metadata service) or ``http://10.0.0.5:5432/`` would turn modelmon into a proxy into that
network. So a URL must be http(s), carry no credentials, and every address its host
resolves to must be publicly routable — unless the address lies in one of the networks
the operator allowed (``MODELMON_WEBHOOK_ALLOWED_NETWORKS``).

The check runs when a URL is saved and again before every attempt (a DNS name may point
elsewhere by then: DNS rebinding); :class:`GuardedBackend` also connects only to the
addresses it has just vetted, so the name is not resolved a second time between check
and connection. The resolver is a parameter, so tests run without DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) → the addresses it resolves to, as text; raises OSError when it does not resolve.
Resolver = Callable[[str, int], list[str]]

SETTING = "MODELMON_WEBHOOK_ALLOWED_NETWORKS"
# Checked in this order; the first that matches names the refusal.
_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


class RefusedUrl(ValueError):
    """A URL webhooks may not be sent to; the message says why and how to allow it."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address of ``host`` by getaddrinfo, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def forbidden_category(address: Address) -> str | None:
    """Why ``address`` is not publicly routable ("private", "loopback", …), or None if it is.

    An IPv6 address that carries an IPv4 one (mapped ``::ffff:10.0.0.1``, 6to4 ``2002::/16``,
    Teredo) is judged as the IPv4 address it carries. Anything not global that no named
    category covers (e.g. 100.64.0.0/10, the carrier-grade NAT range) is refused as "not
    globally routable".
    """
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address carrying an IPv4 one (mapped, 6to4, Teredo's client) is judged as the
        # IPv4 address it reaches: 2002:a9fe:a9fe:: embeds 169.254.169.254.
        teredo = address.teredo[1] if address.teredo is not None else None
        embedded = address.ipv4_mapped or address.sixtofour or teredo
        if embedded is not None:
            address = embedded
    for attribute, name in _CATEGORIES:
        if getattr(address, attribute):
            return name
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    return None if address.is_global else "not globally routable"


def split_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL without credentials; :class:`RefusedUrl` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RefusedUrl(f"{url!r} is not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https"):
        raise RefusedUrl("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RefusedUrl("the URL must not carry credentials (user:password@); receivers check the signature")
    if not parts.hostname:
        raise RefusedUrl("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True, slots=True)
class Guard:
    """The policy: allowed networks and the resolver that turns hosts into addresses."""

    allowed: tuple[Network, ...]
    resolver: Resolver = system_resolver

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str], resolver: Resolver = system_resolver) -> Guard:
        return cls(parse_networks(cidrs), resolver)

    def vet_host(self, host: str, port: int) -> list[Address]:
        """The addresses of ``host``, all permitted; :class:`RefusedUrl` if any is not.

        Every address is checked, not just the first: a name with one public and one
        private address could be connected to either.
        """
        try:
            texts = self.resolver(host, port)
        except OSError as error:
            raise RefusedUrl(f"the host {host!r} does not resolve ({error})") from error
        if not texts:
            raise RefusedUrl(f"the host {host!r} resolves to no address")
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in texts]
        for address in addresses:
            self._check(host, address)
        return addresses

    def vet_url(self, url: str) -> list[Address]:
        return self.vet_host(*split_url(url))

    def _check(self, host: str, address: Address) -> None:
        category = forbidden_category(address)
        if category is None or any(address in network for network in self.allowed):
            return
        named = "" if host == str(address) else f"the host {host!r} resolves to "
        width = 32 if address.version == 4 else 128
        raise RefusedUrl(
            f"{named}{address}, a {category} address: webhooks are not sent into private networks. "
            f"To allow it, add it to {SETTING} (e.g. {address}/{width})"
        )


class GuardedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to addresses the guard has vetted in the same call.

    TLS is layered on afterwards by httpcore with the URL's host name, so certificates
    and SNI are unaffected by connecting to the address directly.
    """

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses: Sequence[Address] = self.guard.vet_host(host, port)
        except RefusedUrl as error:
            raise httpcore.ConnectError(f"refused: {error}") from error
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last
