"""Error pages for people, in French, each with a way back.

`error_pages` turns the errors of every page outside ``/api/`` that reach it as plain
text (aiohttp's « 404: Not Found », a wrong method, an unexpected exception) into an HTML
page that says what happened and links back: to the replays for the public site, to the
login page for anonymous visitors, to the user's own home otherwise. Pages that already
answer in HTML keep their own message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Final

import jinja2
from aiohttp import web

from replay.store.users import Role, User
from replay.web.auth import LOGIN_PATH, current_user

log = logging.getLogger(__name__)

NBSP: Final = "\u00a0"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROLE_HOMES: Final = {Role.ORGANISER: ("/organisateur/", "Revenir à vos évènements"),
                     Role.EDITOR: ("/edition/", "Revenir aux séances à corriger")}
MESSAGES: Final = {
    400: f"Requête invalide{NBSP}: vérifiez l’adresse ou le formulaire, puis recommencez.",
    403: f"Accès refusé{NBSP}: votre compte ne permet pas d’ouvrir cette page.",
    404: f"Page introuvable{NBSP}: l’adresse est peut-être erronée, ou la page a été "
         "déplacée ou retirée.",
    405: f"Action impossible sur cette page{NBSP}: revenez en arrière et utilisez ses "
         "boutons.",
    413: f"Envoi trop volumineux{NBSP}: choisissez un fichier plus petit.",
    500: f"Erreur du serveur{NBSP}: réessayez dans un instant{NBSP}; si elle se répète, "
         "prévenez l’administrateur.",
}
PAGE: Final = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} – replay</title>
<link rel="stylesheet" href="/organisateur/static/dashboard.css">
</head>
<body>
<main id="contenu" class="error-page">
<h1>{{ message }}</h1>
<p>Erreur {{ status }}.</p>
<p><a href="{{ back_href }}">{{ back_label }}</a></p>
</main>
</body>
</html>
"""


def home_of(user: User) -> tuple[str, str]:
    """Where the user belongs, and how a link back there reads."""
    return ROLE_HOMES.get(user.role, ROLE_HOMES[Role.ORGANISER])


def way_back(request: web.Request) -> tuple[str, str]:
    if request.path.startswith("/site/"):
        return "/site/", "Revenir aux replays"
    user = current_user(request)
    if user is None:
        return LOGIN_PATH, "Se connecter"
    return home_of(user)


@cache
def _template() -> jinja2.Template:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined
                              ).from_string(PAGE)


def error_page(request: web.Request, status: int) -> web.Response:
    message = MESSAGES.get(status, f"Erreur{NBSP}: la demande n’a pas abouti.")
    href, label = way_back(request)
    html = _template().render(title=message.split(NBSP)[0], message=message, status=status,
                              back_href=href, back_label=label)
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def _is_page(request: web.Request) -> bool:
    return not request.path.startswith("/api/")


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_page(request):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or error.content_type == "text/html":
            raise
        return error_page(request, error.status)
    except Exception:
        log.exception("page %s failed", request.path)
        return error_page(request, 500)
