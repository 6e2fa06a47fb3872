"""One Jinja environment for the service's pages, through aiohttp-jinja2.

`setup_pages(app)` installs it once in the application (the factory calls it; `setup_auth`
too, for applications made of the login pages alone): the templates of ``web/templates``
(the organisers' pages, the editor, accounts, upload, login, live keys and the error
page), autoescaped, with undefined names as errors, and the globals every page uses.
`render` answers a page; `render_text` gives its HTML for an error response.

The published site has a Jinja environment of its own (`replay.site.pages.
site_environment`): it writes static files for the object store, outside any request,
and keeps its own templates and policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web

from replay.locale import N_, _, translations
from replay.store.users import Role, User

NBSP: Final = "\u00a0"
STATIC_URL: Final = "/organisateur/static/"
HOME: Final = "/organisateur/"
NEW_EVENT: Final = "/organisateur/nouvel-evenement"
LOGIN_PATH: Final = "/connexion"
SITE_PATH: Final = "/site/"
ROLE_HOMES: Final = {Role.ORGANISER: (HOME, N_("Back to your events")),
                     Role.EDITOR: ("/edition/", N_("Back to the sessions to correct"))}
HTML_HEADERS: Final = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                       "Referrer-Policy": "same-origin"}


def setup_pages(app: web.Application) -> jinja2.Environment:
    """The pages' environment of `app`, installed on first call."""
    if aiohttp_jinja2.APP_KEY in app:
        return app[aiohttp_jinja2.APP_KEY]
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.PackageLoader("replay.web", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(nbsp=NBSP, static=STATIC_URL, home=HOME, new_event=NEW_EVENT)
    return env


def static_files(root: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler serving the files under `root` (route with a ``{tail}``); a missing file
    raises 404, so that the error middleware answers it with the French page (aiohttp's
    static route would answer an empty 404 itself)."""
    base = root.resolve()

    async def serve(request: web.Request) -> web.StreamResponse:
        path = (base / request.match_info["tail"]).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    return serve


def render_text(request: web.Request, name: str, values: dict[str, Any]) -> str:
    """The HTML of template `name` in the environment of the request's application."""
    return aiohttp_jinja2.render_string(name, request, values)


def render(request: web.Request, name: str, values: dict[str, Any], *,
           status: int = 200) -> web.Response:
    return web.Response(status=status, text=render_text(request, name, values),
                        content_type="text/html", charset="utf-8", headers=HTML_HEADERS)


def home_of(user: User) -> tuple[str, str]:
    """Where the user belongs, and how a link back there reads."""
    href, label = ROLE_HOMES.get(user.role, ROLE_HOMES[Role.ORGANISER])
    return href, _(label)


def way_back(path: str, user: User | None) -> tuple[str, str]:
    """The link an error page offers: the replays for the public site, the login page
    for anonymous visitors, the user's own home otherwise."""
    if path.startswith(SITE_PATH):
        return SITE_PATH, _("Back to the replays")
    if user is None:
        return LOGIN_PATH, _("Log in")
    return home_of(user)


def error_html(request: web.Request, status: int, message: str, *, user: User | None,
               csrf: str) -> str:
    """The error page: `message`, the status, and a way back."""
    href, label = way_back(request.path, user)
    return render_text(request, "error.html", {
        "title": message, "message": message, "status": status, "user": user, "csrf": csrf,
        "back_href": href, "back_label": label, "public": request.path.startswith(SITE_PATH)})
