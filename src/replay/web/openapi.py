"""The API's OpenAPI 3.1 document, assembled: ``paths`` from the routes' tables (each
route declared once, `replay.web.api_routes.ApiRoute`, in its handler module, and the
tus sub-application's operations documented beside it), ``components.schemas`` from the
pydantic models of responses and request bodies (`replay.web.api_models`,
`replay.web.api_bodies`). Tests compare the document with the routes and validate it,
and schemathesis checks that the server answers only with the status codes and shapes
declared here (`tests/integration/test_api_fuzz.py`).

`setup_openapi(app)` serves it at ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from replay.live import web as live_web
from replay.locale import N_, _
from replay.web import api, api_captions, api_sessions
from replay.web.api_models import component_schemas
from replay.web.api_routes import EDITOR, OBJECT, ApiRoute, JSONObj, add_api_routes, paths_of
from replay.web.errors import json_response


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


ROUTES: Final = (
    ApiRoute("GET", "/api/openapi.json", openapi, "Ce document", EDITOR,
             ("200", OBJECT, "OpenAPI")),
)


def setup_openapi(app: web.Application) -> None:
    add_api_routes(app.router, ROUTES)


def api_routes() -> tuple[ApiRoute, ...]:
    """Every route of the API but the tus sub-application's."""
    return (*ROUTES, *api.ROUTES, *api_sessions.ROUTES, *api_captions.ROUTES,
            *live_web.API_ROUTES)


#: What the API is for, as its document says.
DESCRIPTION: Final = N_("Events' recordings, cut by session, captions and publication of the "
                        "replays.")


def openapi_document() -> JSONObj:
    return {
        "openapi": "3.1.0",
        "info": {"title": "replay", "version": "1",
                 "description": _(DESCRIPTION)},
        "security": [{"bearer": []}, {"session": []}],
        "paths": {**paths_of(api_routes()), **api.tus_paths()},
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "replay_session"},
            },
        },
    }
