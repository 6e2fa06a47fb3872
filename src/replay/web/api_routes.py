"""Each API route declared once (`ApiRoute`): its method, path and handler, registered on
the router by `add_api_routes`, with what ``/api/openapi.json`` says of it (`operation`):
summary, role, success, other statuses, parameters and request body. The role is
enforced from the table (`add_api_routes` guards each handler with it): handlers carry no
role decorator of their own. Each handler module keeps its table (``ROUTES``);
`replay.web.openapi` assembles the document from them.

Every operation declares 401, 403 and 507 (the server's disk is full); one with a body
also 400 (unreadable) and 413 (too large).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from replay.locale import N_, _
from replay.store.users import Role
from replay.web.auth import require

JSONObj = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExpectHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
#: A success's schema: a model of `replay.web.api_models` (by reference), or a schema.
Schema = type[BaseModel] | JSONObj

ORGANISER: Final = Role.ORGANISER
EDITOR: Final = Role.EDITOR  # editors and organisers: organisers pass every role check
#: How the document names each role.
ROLE_LABELS: Final = {ORGANISER: N_("organiser"), EDITOR: N_("editor or organiser")}

ERRORS: Final = {
    "400": N_("Invalid request (unreadable programme: the parser's message)"),
    "401": N_("Login required"),
    "403": N_("Role insufficient, or event not allowed"),
    "404": N_("Not found"),
    "409": N_("Conflict with the current state"),
    "410": N_("Upload expired"),
    "412": N_("tus protocol version missing or not supported (header Tus-Resumable, 1.0.0)"),
    "413": N_("File, form or request body too large"),
    "415": N_("Content type not supported"),
    "422": N_("Refused (unreadable media, unknown room, invalid cut boundary, invalid captions:"
             " the line or the cue and the reason; programme not found at the given address, "
             "or address not public)"),
    "423": N_("Another request already writes into this upload"),
    "428": N_("If-Match header required (the ETag of the captions read)"),
    "429": N_("Too many requests at once (uploads in progress for this organiser, caption files"
             " being processed): try again later (Retry-After)"),
    "460": N_("Checksum of the chunk or of the file incorrect (tus)"),
    "507": N_("Insufficient storage: the server's disk is full, or the organiser's upload quota"
             " is reached"),
}


def ref(name: str) -> JSONObj:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: JSONObj, description: str) -> JSONObj:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def path_param(name: str, description: str, integer: bool = False) -> JSONObj:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "integer"} if integer else {"type": "string"}}


def query_param(name: str, schema: JSONObj, required: bool = False) -> JSONObj:
    return {"name": name, "in": "query", "required": required, "schema": schema}


SLUG: Final = path_param("slug", N_("The event's identifier"))
RECORDING: Final = path_param("id", N_("The recording's number"), integer=True)
GUID: Final = path_param("guid", N_("The session's guid in the programme"))
UPLOAD_ID: Final = path_param("upload_id", N_("The upload's identifier"))


def translated(param: JSONObj) -> JSONObj:
    """`param` with its description (an English message) in French, for the document."""
    if "description" not in param:
        return param
    return {**param, "description": _(param["description"])}
OBJECT: Final = {"type": "object"}


def _schema(schema: Schema) -> JSONObj:
    return ref(schema.__name__) if isinstance(schema, type) else schema


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """One operation of the API. `body`: a request model (a JSON body), or the request
    body's description where it is not JSON (multipart); `ok`: the success's status,
    schema and description; `errors`: the other statuses, beyond those every operation
    declares."""

    method: str
    path: str
    handler: Handler
    summary: str
    role: Role
    ok: tuple[str, Schema, str]
    errors: tuple[str, ...] = ()
    body: type[BaseModel] | JSONObj | None = None
    params: tuple[JSONObj, ...] = ()
    expect_handler: ExpectHandler | None = None

    def with_params(self, *more: JSONObj) -> ApiRoute:
        """The same route with `more` parameters after its own."""
        return replace(self, params=(*self.params, *more))

    def operation(self) -> JSONObj:
        status, schema, description = self.ok
        responses: JSONObj = {status: json_content(_schema(schema), _(description))}
        with_body = ("400", "413") if self.body is not None else ()
        for code in sorted({"401", "403", "507", *with_body, *self.errors}):
            responses[code] = json_content(ref("Error"), _(ERRORS[code]))
        operation: JSONObj = {"summary": _(self.summary),
                              "description": _("Role: {role}.").format(
                                  role=_(ROLE_LABELS[self.role])),
                              "responses": responses}
        if self.body is not None:
            operation["requestBody"] = self._request_body()
        if self.params:
            operation["parameters"] = [translated(param) for param in self.params]
        return operation

    def _request_body(self) -> JSONObj:
        if isinstance(self.body, type):
            return {"required": True, "content": {
                "application/json": {"schema": ref(self.body.__name__)}}}
        assert self.body is not None
        return _described(self.body)


def _described(schema: JSONObj) -> JSONObj:
    """`schema` with its descriptions (English messages, at any depth) in French."""
    return {key: _(value) if key == "description" and isinstance(value, str)
            else _described(value) if isinstance(value, dict) else value
            for key, value in schema.items()}


def add_api_routes(router: web.UrlDispatcher, routes: Iterable[ApiRoute]) -> None:
    """Register `routes`, each handler guarded by its table's role: the table is where a
    route's role is written, once (a GET answers HEAD too, as `add_get` does)."""
    for route in routes:
        handler = require(route.role)(route.handler)
        if route.method == "GET":
            router.add_get(route.path, handler)
        else:
            router.add_route(route.method, route.path, handler,
                             expect_handler=route.expect_handler)


def paths_of(routes: Iterable[ApiRoute]) -> dict[str, JSONObj]:
    """The document's ``paths`` for `routes`."""
    paths: dict[str, JSONObj] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = route.operation()
    return paths
