"""JSON errors of the API: ``{"error": "<French sentence saying what to do>"}``.

Handlers raise `api_error(status, message)`; the one error middleware
(`replay.web.error_pages.errors_middleware`) turns aiohttp's own errors under ``/api/``
(unknown path, wrong method, body too large) into the same shape, and a full disk
(`is_disk_full`) into a French 507.
"""

from __future__ import annotations

import errno
import functools
import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam

from replay.locale import N_

NBSP: Final = "\u00a0"
API_PREFIX: Final = "/api/"
#: Where the tus sub-application answers: its errors keep the tus protocol's shape.
TUS_PREFIX: Final = "/api/uploads/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: What aiohttp raises reading a malformed form (boundary, part headers, encoding); its
#: two warnings are raised, not only warned, where warnings are errors.
MALFORMED_BODY: Final = (ValueError, RuntimeError, HttpProcessingError,
                         BadContentDispositionHeader, BadContentDispositionParam)

INSUFFICIENT_STORAGE: Final = 507
#: Said in French through the catalogue: ``_(DISK_FULL)``.
DISK_FULL: Final = N_("The server's disk is full: nothing was saved. Try again later, or "
                      "ask the administrator to free some space.")
_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


class APIError(web.HTTPException):
    """An HTTP error of any status with a JSON body; aiohttp's classes fix the status."""

    def __init__(self, status: int, message: str, **detail: object) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message, **detail}, ensure_ascii=False),
                         content_type="application/json")


def api_error(status: int, message: str) -> APIError:
    return APIError(status, message)


def json_response(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda value: json.dumps(value, ensure_ascii=False))


#: PostgreSQL's SQLSTATE for a write refused for lack of space (class 53, disk_full).
_POSTGRESQL_DISK_FULL = "53100"


def is_disk_full(error: BaseException) -> bool:
    """A write refused for lack of space: the file system's ENOSPC or EDQUOT, SQLite's
    SQLITE_FULL (« database or disk is full »), or PostgreSQL's disk_full (psycopg's
    errors carry their SQLSTATE)."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return True
    if getattr(error, "sqlstate", None) == _POSTGRESQL_DISK_FULL:
        return True
    return isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error)


class HangUp(Exception):
    """Answer `response`, then close the connection without reading the request's body."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def hangs_up(handler: Handler) -> Handler:
    """Lets `handler` raise `HangUp`: aiohttp would otherwise read and drop the rest of the
    body (its lingering close, up to 10 s) before closing."""
    @functools.wraps(handler)
    async def answering(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except HangUp as hanging_up:
            return await hang_up(request, hanging_up.response)
    return answering


async def hang_up(request: web.Request, response: web.Response) -> web.Response:
    """Send `response`, then close the connection at once: what is left of the request's
    body is never read."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response
