"""Which addresses a server-side fetch may reach, and who a request comes from: tables."""

from __future__ import annotations

import ipaddress

import pytest

from replay.domain.addresses import (
    client_address,
    is_public_address,
    parse_address,
    parse_networks,
)


@pytest.mark.parametrize("text", [
    "127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "172.16.5.4", "192.168.1.1",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "192.0.0.1", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",  # special, docs
    "240.0.0.1", "255.255.255.255",  # reserved, broadcast
    "224.0.0.1", "239.255.255.250",  # multicast
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "2002:7f00:1::1", "2002:a00:1::1",  # 6to4 around loopback and private
    "64:ff9b::7f00:1", "64:ff9b:1::1",  # NAT64
    "2001::1",  # Teredo
])
def test_non_public_addresses_are_refused(text: str) -> None:
    assert is_public_address(ipaddress.ip_address(text)) is False


@pytest.mark.parametrize("text", [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4007::1",
    "::ffff:8.8.8.8", "2002:808:808::1",  # mapped and 6to4 around a public one
])
def test_public_addresses_pass(text: str) -> None:
    assert is_public_address(ipaddress.ip_address(text)) is True


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), (" ::1 ", "::1"), ("localhost", None),
    ("2130706433", None), ("127.1", None), ("", None), ("[::1", "::1"),
])
def test_parse_address(text: str, expected: str | None) -> None:
    found = parse_address(text)
    assert (None if found is None else str(found)) == expected


def test_parse_networks() -> None:
    assert parse_networks(" 10.0.0.1, 192.168.0.0/16 ,::1,") == (
        ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("::1/128"))
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match=r"'proxy\.local'"):
        parse_networks("10.0.0.1, proxy.local")


PROXIES = parse_networks("10.0.0.0/8, ::1")


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # not a proxy: its header is ignored
    ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
    ("10.0.0.2", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),  # the client wrote 1.2.3.4
    ("10.0.0.2", ["198.51.100.1, 10.0.0.7"], "198.51.100.1"),  # two proxies
    ("10.0.0.2", ["198.51.100.1", "10.0.0.7"], "198.51.100.1"),  # header repeated
    ("10.0.0.2", [], "10.0.0.2"),
    ("10.0.0.2", ["10.0.0.3"], "10.0.0.2"),  # only proxies: the peer
    ("10.0.0.2", ["pas une adresse"], "10.0.0.2"),
    ("::1", ["2001:db8::7"], "2001:db8::7"),
    ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
])
def test_client_address_trusts_only_the_configured_proxies(
        peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"
