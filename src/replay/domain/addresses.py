"""IP addresses: which ones a server-side fetch may reach, and who a request comes from.
Pure logic, no I/O.

`is_public_address` is the check behind programme import by URL (no SSRF): only
addresses routed on the public Internet pass. `client_address` finds the client behind
the reverse proxies an operator declared (setting ``trusted_proxies``); a forwarded
header from anyone else is ignored, so a client cannot choose the address it is
rate-limited under.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Decides whether a resolved address may be connected to.
AddressPolicy: TypeAlias = Callable[[IPAddress], bool]

#: IPv6 prefixes that embed IPv4 (IPv4-compatible, NAT64) or tunnel it (Teredo): where they lead
#: cannot be told from here, so they are refused.
_TRANSLATED: Final = tuple(ipaddress.ip_network(n) for n in (
    "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32"))


def parse_address(text: str) -> IPAddress | None:
    """An IP address written in its usual form (``[::1]`` brackets allowed); else None."""
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address: not loopback, private, link-local,
    shared (CGNAT), reserved, multicast or unspecified, and not one of those in disguise
    (IPv4-mapped or 6to4 IPv6, NAT64, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
        if any(address in network for network in _TRANSLATED):
            return False
    return address.is_global and not address.is_multicast


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses or networks (``10.0.0.1, 192.168.0.0/16, ::1``);
    ValueError naming the first one that is neither."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(networks)


def client_address(peer: str, forwarded_for: Iterable[str],
                   trusted: Sequence[IPNetwork]) -> str:
    """The client's address: `peer`, unless `peer` is a trusted proxy; then the last
    address of the ``X-Forwarded-For`` chain that is not a trusted proxy (proxies append
    what they saw, so what comes before the first untrusted hop is the client's word).
    """
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return peer  # a malformed chain: fall back on what the socket says
        if not _trusted(str(address), trusted):
            return str(address)
    return peer


def _trusted(text: str, trusted: Sequence[IPNetwork]) -> bool:
    address = parse_address(text)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)
