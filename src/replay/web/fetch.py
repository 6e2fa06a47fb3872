"""Fetching a programme from a URL the organiser gave: http or https only, public
addresses only, a size limit, a timeout, and French messages for what goes wrong.

No server-side request forgery: each host is resolved once, by `_CheckedResolver`, and
the connection goes to the address that was checked (no second lookup a DNS server
could answer differently). Every address the name resolves to must pass the policy
(`is_public_address` unless a test injects another); an IP written in the URL is checked
the same way. Redirects are followed by hand, each hop checked like the first. Whatever
goes wrong once the address is accepted (refused address, closed port, timeout, an error
status, not a programme), the organiser reads the same message: the answers must not
map the server's network.
"""

from __future__ import annotations

import socket
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from replay.domain.addresses import AddressPolicy, is_public_address, parse_address
from replay.locale import N_, _

PROGRAMME_MAX_BYTES: Final = 8 << 20
FETCH_TIMEOUT: Final = 30.0
MAX_REDIRECTS: Final = 3
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
#: The policy the API fetches with; tests replace it to reach a listener on 127.0.0.1.
FETCH_POLICY: Final[web.AppKey[AddressPolicy]] = web.AppKey("replay_fetch_policy")

UNREACHABLE: Final = N_("The programme could not be downloaded from this address: it must be "
                       "public (neither local nor internal) and answer with the programme's "
                       "file. Check the address, or send the file.")


class FetchError(Exception):
    """The programme could not be fetched; the message is French and says what to do.
    `status`: 400 for an address that is not http(s), 422 for anything else."""

    def __init__(self, message: str | None = None, status: int = 422) -> None:
        super().__init__(message or _(UNREACHABLE))
        self.status = status


class AddressRefused(OSError):
    """A host resolved to an address the policy refuses."""


class _CheckedResolver(AbstractResolver):
    """Resolves with the system resolver, then refuses the whole name when any of its
    addresses fails the policy; aiohttp connects to the addresses returned."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._resolver = ThreadedResolver()
        self._policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        addresses = [parse_address(item["host"]) for item in found]
        if not found or not all(a is not None and self._policy(a) for a in addresses):
            raise AddressRefused(f"{host} resolves to a refused address")
        return found

    async def close(self) -> None:
        await self._resolver.close()


def checked_url(text: str) -> URL:
    try:
        url = URL(text.strip())
    except ValueError:
        url = URL()
    if url.scheme not in {"http", "https"} or not url.host:
        raise FetchError(_("Address “{address}” refused: give a complete {http} or {https} "
                           "address.").format(address=text[:200], http="http://",
                                              https="https://"), status=400)
    return url


def _check_literal(url: URL, policy: AddressPolicy) -> None:
    """An IP written as the host never reaches the resolver: check it here."""
    address = parse_address(url.host or "")
    if address is not None and not policy(address):
        raise FetchError()


async def fetch_programme(text: str, *, max_bytes: int = PROGRAMME_MAX_BYTES,
                          timeout: float = FETCH_TIMEOUT,  # noqa: ASYNC109
                          policy: AddressPolicy = is_public_address) -> tuple[bytes, str]:
    """The document at `text` and a file name for its format detection."""
    url = checked_url(text)
    connector = aiohttp.TCPConnector(resolver=_CheckedResolver(policy), use_dns_cache=False)
    try:
        async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            return await _follow(http, url, max_bytes, policy)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        raise FetchError() from None


async def _follow(http: aiohttp.ClientSession, url: URL, max_bytes: int,
                  policy: AddressPolicy) -> tuple[bytes, str]:
    for _hop in range(MAX_REDIRECTS + 1):
        _check_literal(url, policy)
        async with http.get(url, allow_redirects=False) as response:
            if response.status in _REDIRECTS and "Location" in response.headers:
                url = checked_url(str(url.join(URL(response.headers["Location"]))))
                continue
            if response.status != 200:
                raise FetchError()
            return await _body(response, max_bytes), url.name
    raise FetchError()


async def _body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if (response.content_length or 0) > max_bytes:
        raise FetchError()
    body = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(_("The document at this address exceeds {megabytes} MB: it is "
                               "probably not a programme.").format(megabytes=max_bytes >> 20))
    return bytes(body)
