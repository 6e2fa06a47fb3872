"""JSON errors of the API: ``{"error": "<French sentence saying what to do>"}``.

Handlers raise `api_error(status, message)`; `json_errors` turns aiohttp's own errors
under ``/api/`` (unknown path, wrong method, body too large) into the same shape.
`disk_full_errors` answers a full disk (a file write or SQLite) with a French 507 instead
of a bare 500, in JSON under ``/api/`` and as a page elsewhere.
"""

from __future__ import annotations

import errno
import html
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam

log = logging.getLogger(__name__)

NBSP: Final = "\u00a0"
API_PREFIX: Final = "/api/"
#: Where the tus sub-application answers: its errors keep the tus protocol's shape.
TUS_PREFIX: Final = "/api/uploads/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: What aiohttp raises reading a malformed form (boundary, part headers, encoding); its
#: two warnings are raised, not only warned, where warnings are errors.
MALFORMED_BODY: Final = (ValueError, RuntimeError, HttpProcessingError,
                         BadContentDispositionHeader, BadContentDispositionParam)

_DEFAULTS: Final = {
    400: f"Requête invalide{NBSP}: vérifiez les champs envoyés.",
    404: f"Ressource introuvable{NBSP}: vérifiez l’adresse.",
    405: f"Méthode non autorisée sur cette adresse{NBSP}: consultez /api/openapi.json.",
    413: f"Requête trop volumineuse{NBSP}: envoyez un fichier plus petit.",
}
INSUFFICIENT_STORAGE: Final = 507
DISK_FULL: Final = (f"Le disque du serveur est plein{NBSP}: rien n’a été enregistré. "
                    "Réessayez plus tard, ou prévenez l’administrateur pour qu’il libère "
                    "de la place.")
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


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's plain-text errors under /api/ (but tus's) become JSON, in French."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if not _api_path(request.path) or error.status < 400 or _is_json(error):
            raise
        message = _DEFAULTS.get(error.status, f"Erreur {error.status}{NBSP}: {error.reason}.")
        raise api_error(error.status, message) from None


def is_disk_full(error: BaseException) -> bool:
    """A write refused for lack of space: the file system's ENOSPC or EDQUOT, or SQLite's
    SQLITE_FULL (« database or disk is full »)."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return True
    return isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error)


@web.middleware
async def disk_full_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as error:
        if not is_disk_full(error):
            raise
        log.error("%s %s: the disk is full", request.method, request.path, exc_info=error)
        if request.path.startswith(API_PREFIX):
            return json_response({"error": DISK_FULL}, status=INSUFFICIENT_STORAGE)
        page = (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Disque '
                f'plein</title></head><body><main><h1>{html.escape(DISK_FULL)}</h1></main>'
                "</body></html>")
        return web.Response(status=INSUFFICIENT_STORAGE, text=page, content_type="text/html")


def _api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(TUS_PREFIX)


def _is_json(error: web.HTTPException) -> bool:
    return error.content_type == "application/json"
