"""The SSRF guard on its own, with a resolver that answers from a table (no DNS)."""

from __future__ import annotations

import ipaddress

import pytest

from service.webhooks.netguard import Guard, RefusedUrl, forbidden_category, split_url

NAMES = {
    "hooks.example.com": ["93.184.215.14"],
    "split.example.com": ["93.184.215.14", "10.0.0.9"],
    "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
}


def resolver(host: str, _port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        raise OSError(f"unknown host {host}") from None


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 carrying the metadata address
        ("2002:5db8:d70e::1", None),  # 6to4 carrying a public address
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_addresses_are_classified(address: str, category: str | None) -> None:
    assert forbidden_category(ipaddress.ip_address(address)) == category


def test_a_public_name_passes_and_a_name_with_any_private_address_is_refused() -> None:
    guard = Guard.from_cidrs([], resolver)
    assert guard.vet_url("https://hooks.example.com/x") == [ipaddress.ip_address("93.184.215.14")]
    assert guard.vet_url("http://v6.example.com:8080/")
    with pytest.raises(RefusedUrl, match=r"'split.example.com' resolves to 10\.0\.0\.9, a private address"):
        guard.vet_url("https://split.example.com/")
    with pytest.raises(RefusedUrl, match="loopback"):
        guard.vet_url("https://mapped.example.com/")
    with pytest.raises(RefusedUrl, match="does not resolve"):
        guard.vet_url("https://nowhere.example.com/")


def test_allowed_networks_admit_their_addresses_only() -> None:
    guard = Guard.from_cidrs(["10.0.0.0/24", "::1/128"], resolver)
    assert guard.vet_url("http://10.0.0.200/")
    assert guard.vet_url("http://[::1]:9000/")
    with pytest.raises(RefusedUrl, match=r"MODELMON_WEBHOOK_ALLOWED_NETWORKS \(e\.g\. 10\.0\.1\.1/32\)"):
        guard.vet_url("http://10.0.1.1/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://hooks.example.com/", "http:// or https://"),
        ("https://user:secret@hooks.example.com/", "credentials"),
        ("https://user@hooks.example.com/", "credentials"),
        ("https:///path", "no host"),
        ("http://hooks.example.com:70000/", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(RefusedUrl, match=message):
        split_url(url)


def test_ports_default_by_scheme() -> None:
    assert split_url("https://hooks.example.com/x") == ("hooks.example.com", 443)
    assert split_url("http://hooks.example.com/x") == ("hooks.example.com", 80)
    assert split_url("http://[::1]:8080/x") == ("::1", 8080)
