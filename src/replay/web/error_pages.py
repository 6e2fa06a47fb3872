"""The one error middleware: every error answers in French, as a page or as JSON.

- Under ``/api/`` (but the tus sub-application, whose errors keep the tus protocol's
  shape), aiohttp's own plain-text errors (unknown path, wrong method, body too large) and
  unexpected exceptions (logged) become ``{"error": "<French sentence>"}``
  (`errors.APIError`).
- Everywhere else, errors that reach it as plain text (aiohttp's « 404: Not Found », a
  wrong method, an unexpected exception, a handler's `page_error`) become the error page
  of the pages' Jinja environment (``error.html``): what happened, and a link back (to the
  replays for the public site, to the login page for anonymous visitors, to the user's own
  home otherwise). Errors already answered in HTML or JSON are left as they are.
- A full disk (a file write or SQLite) is a French 507, in either shape.

The messages come from the French catalogue (`replay.locale`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from replay.locale import N_, _
from replay.web.auth import csrf_token, current_user
from replay.web.errors import (
    API_PREFIX,
    DISK_FULL,
    INSUFFICIENT_STORAGE,
    TUS_PREFIX,
    APIError,
    is_disk_full,
    json_response,
)
from replay.web.pages import HTML_HEADERS, error_html

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PAGE_MESSAGES: Final = {
    400: N_("Invalid request: check the address or the form, then try again."),
    403: N_("Access denied: your account cannot open this page."),
    404: N_("Page not found: the address may be wrong, or the page was moved or removed."),
    405: N_("This action is not possible on this page: go back and use its buttons."),
    413: N_("Upload too large: choose a smaller file."),
    500: N_("Server error: try again in a moment; if it happens again, tell the "
            "administrator."),
}
API_MESSAGES: Final = {
    400: N_("Invalid request: check the fields sent."),
    404: N_("Resource not found: check the address."),
    405: N_("Method not allowed at this address: see /api/openapi.json."),
    413: N_("Request too large: send a smaller file."),
    500: PAGE_MESSAGES[500],
}
GENERIC: Final = N_("Error: the request did not succeed.")


class PageError(web.HTTPException):
    """An error of a page with the French sentence its error page shows."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        self.message = message
        super().__init__(text=message, content_type="text/plain")


def page_error(request: web.Request, kind: type[web.HTTPException],
               message: str) -> web.HTTPException:
    """An error page saying `message`, with a way back (rendered by `errors_middleware`)."""
    return PageError(kind.status_code, message)


def error_page(request: web.Request, status: int, message: str | None = None) -> web.Response:
    text = message or _(PAGE_MESSAGES.get(status, GENERIC))
    html = error_html(request, status, text, user=current_user(request),
                      csrf=csrf_token(request))
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8",
                        headers=HTML_HEADERS)


def _api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(TUS_PREFIX)


def _answered(error: web.HTTPException) -> bool:
    return error.content_type in {"text/html", "application/json"}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or (_answered(error) and not isinstance(error, PageError)):
            raise
        return _http_error(request, error)
    except Exception as error:
        return _failure(request, error)


def _http_error(request: web.Request, error: web.HTTPException) -> web.StreamResponse:
    if request.path.startswith(TUS_PREFIX):
        raise error
    message = error.message if isinstance(error, PageError) else None
    if _api_path(request.path):
        text = message or (_(API_MESSAGES[error.status]) if error.status in API_MESSAGES
                           else _("Error {status}: {reason}.").format(status=error.status,
                                                                      reason=error.reason))
        raise APIError(error.status, text) from None
    response = error_page(request, error.status, message)
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in error.headers:
            response.headers[name] = error.headers[name]
    return response


def _failure(request: web.Request, error: Exception) -> web.StreamResponse:
    if is_disk_full(error):
        log.error("%s %s: the disk is full", request.method, request.path, exc_info=error)
        if request.path.startswith(API_PREFIX):
            return json_response({"error": _(DISK_FULL)}, status=INSUFFICIENT_STORAGE)
        return error_page(request, INSUFFICIENT_STORAGE, _(DISK_FULL))
    if request.path.startswith(TUS_PREFIX):
        raise error
    log.error("%s %s failed", request.method, request.path, exc_info=error)
    if request.path.startswith(API_PREFIX):
        return json_response({"error": _(API_MESSAGES[500])}, status=500)
    return error_page(request, 500)
