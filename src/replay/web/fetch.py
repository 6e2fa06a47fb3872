"""Fetching a programme from a URL the organiser gave: http or https only, a size limit,
a timeout, and French messages for what goes wrong."""

from __future__ import annotations

from typing import Final

import aiohttp
from yarl import URL

NBSP: Final = "\u00a0"
PROGRAMME_MAX_BYTES: Final = 8 << 20
FETCH_TIMEOUT: Final = 30.0


class FetchError(Exception):
    """The programme could not be fetched; the message is French and says what to do.
    `status`: 400 for an address refused, 502 when the other server failed."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def checked_url(text: str) -> URL:
    try:
        url = URL(text.strip())
    except ValueError:
        url = URL()
    if url.scheme not in {"http", "https"} or not url.host:
        raise FetchError(f"Adresse « {text} » refusée{NBSP}: donnez une adresse http:// ou "
                         "https:// complète.", status=400)
    return url


async def fetch_programme(text: str, *, max_bytes: int = PROGRAMME_MAX_BYTES,
                          timeout: float = FETCH_TIMEOUT) -> tuple[bytes, str]:  # noqa: ASYNC109
    """The document at `text` and a file name for its format detection."""
    url = checked_url(text)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            return await _download(http, url, max_bytes), url.name
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"Le programme n’a pas pu être téléchargé depuis {url} "
                         f"({type(exc).__name__}){NBSP}: vérifiez l’adresse, ou envoyez le "
                         "fichier.") from exc


async def _download(http: aiohttp.ClientSession, url: URL, max_bytes: int) -> bytes:
    async with http.get(url, max_redirects=3) as response:
        if response.status != 200:
            raise FetchError(f"{url} a répondu {response.status}{NBSP}: vérifiez l’adresse, "
                             "ou envoyez le fichier.")
        body = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"Le document à {url} dépasse {max_bytes >> 20}{NBSP}Mo"
                                 f"{NBSP}: ce n’est sans doute pas un programme.")
        return bytes(body)
