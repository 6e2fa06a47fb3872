"""The API's OpenAPI 3.1 document: the routes' operations written here, the request and
response shapes (`components.schemas`) generated from the pydantic models of
`replay.web.api_models` (tests compare the document with the routes and validate it,
and schemathesis checks that the server answers only with the status codes and shapes
declared here: `tests/integration/test_api_fuzz.py`).

Every operation declares 401, 403 and 507 (the server's disk is full); one with a body
also 400 (unreadable) and 413 (too large)."""

from __future__ import annotations

from typing import Any, Final

from replay.web.api_bodies import (
    Body,
    CaptionsChange,
    ChaptersChange,
    CutMove,
    EventDescription,
    GlossaryChange,
    HeldCorrection,
    OptionsChange,
    PodcastChange,
    ProgrammeSource,
    Replacement,
    Revert,
    StatusChange,
)
from replay.web.api_models import component_schemas

JSONObj = dict[str, Any]

_ERRORS: Final = {
    "400": "Requête invalide (programme illisible : le message de l’analyseur)",
    "401": "Connexion requise",
    "403": "Rôle insuffisant, ou événement non autorisé",
    "404": "Introuvable",
    "409": "Conflit avec l’état actuel",
    "410": "Téléversement expiré",
    "412": "Version du protocole tus absente ou non prise en charge (Tus-Resumable: 1.0.0)",
    "413": "Fichier, formulaire ou corps de requête trop volumineux",
    "415": "Type de contenu non pris en charge",
    "422": "Refusé (média illisible, salle inconnue, limite de découpe invalide, "
           "sous-titres invalides : la ligne ou le repère et la raison ; programme "
           "introuvable à l’adresse donnée, ou adresse non publique)",
    "423": "Un autre envoi écrit déjà dans ce téléversement",
    "428": "En-tête If-Match requis (l’ETag des sous-titres lus)",
    "429": "Trop de demandes à la fois (envois en cours pour cet organisateur, fichiers de "
           "sous-titres en traitement) : réessayez plus tard (Retry-After)",
    "460": "Somme de contrôle du morceau ou du fichier incorrecte (tus)",
    "507": "Espace insuffisant : le disque du serveur est plein, ou le quota d’envoi de "
           "l’organisateur est atteint",
}


def _ref(name: str) -> JSONObj:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JSONObj, description: str) -> JSONObj:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str, description: str, integer: bool = False) -> JSONObj:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "integer"} if integer else {"type": "string"}}


def _op(summary: str, role: str, ok: tuple[str, JSONObj, str], *errors: str,
        body: JSONObj | None = None, params: list[JSONObj] | None = None) -> JSONObj:
    status, schema, description = ok
    responses: JSONObj = {status: _json(schema, description)}
    with_body = ("400", "413") if body is not None else ()
    for code in sorted({"401", "403", "507", *with_body, *errors}):
        responses[code] = _json(_ref("Error"), _ERRORS[code])
    operation: JSONObj = {"summary": summary, "description": f"Rôle : {role}.",
                          "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    if params:
        operation["parameters"] = params
    return operation


_SLUG: Final = _path_param("slug", "Identifiant de l’événement")
_RECORDING: Final = _path_param("id", "Numéro de l’enregistrement", integer=True)
_GUID: Final = _path_param("guid", "guid de la session dans le programme")

_PROGRAMME_BODY: Final = {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["programme"],
        "properties": {"programme": {"type": "string", "format": "binary",
                                     "description": "schedule.json, schedule.xml ou iCal"}}}},
    "application/json": {"schema": _ref(ProgrammeSource.__name__)},
}}

_UPLOAD_BODY: Final = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "room"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "room": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time",
                       "description": "Début à l’horloge murale, avec fuseau ; sinon "
                                      "creation_time du fichier"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }}}}}

_EVENT_FIELDS: Final = {
    "title": {"type": "string"}, "start": {"type": "string", "format": "date"},
    "end": {"type": "string", "format": "date"}, "timezone": {"type": "string"},
    "rooms": {"type": "string", "description": "Une salle par ligne"},
    "publication_rule": {"type": "string",
                         "enum": ["automatique", "apres_decoupage", "apres_sous_titres"]},
}

_EVENT_BODY: Final = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        **_EVENT_FIELDS, "programme": {"type": "string", "format": "binary",
                                       "description": "schedule.json, schedule.xml ou iCal "
                                                      "(facultatif)"}}}},
    "application/json": {"schema": _ref(EventDescription.__name__)},
}}

_AT: Final = [{"name": n, "in": "query", "required": True, "schema": {"type": "number"}}
              for n in ("start", "end")]

_TUS: Final = ("Téléversement reprenable, protocole tus 1.0.0 (extensions creation, checksum, "
               "termination, expiration). Métadonnées : event, room, started_at, filename, "
               "sha256 (vérifié à la fin). Rôle : organisateur.")


#: What a tus request may be answered besides its success (errors as French text, or JSON
#: for the refusals of the API around it: role, event, room, quotas).
_TUS_ERRORS: Final = ("400", "401", "403", "404", "409", "410", "412", "413", "415", "422",
                      "423", "429", "460", "507")


def _tus_op(summary: str, status: str) -> JSONObj:
    responses: JSONObj = {status: {"description": "Réponse tus"}}
    for code in _TUS_ERRORS:
        responses[code] = {"description": _ERRORS[code]}
    return {"summary": summary, "description": _TUS, "responses": responses}


def _paths() -> JSONObj:
    org, any_role = "organisateur", "éditeur ou organisateur"
    plan = ("200", _ref("Plan"), "Le plan de découpe")
    job = ("202", {"type": "object"}, "Travail mis en file")
    return {
        "/api/openapi.json": {"get": _op("Ce document", any_role,
                                         ("200", {"type": "object"}, "OpenAPI"))},
        "/api/events": {
            "get": _op("Les événements", any_role, ("200", _ref("EventList"), "Événements")),
            "post": _op("Créer un évènement : sa description, son programme, ou les deux "
                        "(preview=true : seulement dire ce qui serait créé)", org,
                        ("201", _ref("EventDetail"), "Créé"), "400", "409", "413", "415", "422",
                        body=_EVENT_BODY, params=[{
                            "name": "preview", "in": "query", "required": False,
                            "schema": {"type": "boolean", "default": False}}]),
        },
        "/api/events/{slug}": {"get": _op("Un événement et ses sessions", any_role,
                                          ("200", _ref("EventDetail"), "Événement"), "404",
                                          params=[_SLUG])},
        "/api/events/{slug}/programme": {"post": _op(
            "Réimporter le programme (aperçu des changements par guid, appliqué avec "
            "preview=false)", org, ("200", _ref("ImportSummary"), "Changements"),
            "404", "415", "422", body=_PROGRAMME_BODY, params=[_SLUG, {
                "name": "preview", "in": "query", "required": False,
                "schema": {"type": "boolean", "default": True}}])},
        "/api/events/{slug}/recordings": {
            "get": _op("Les enregistrements", org, ("200", _ref("RecordingList"), "Liste"),
                       "404", params=[_SLUG]),
            "post": _op("Téléverser un petit enregistrement (multipart)", org,
                        ("201", _ref("Uploaded"), "Enregistré, analyse en file"),
                        "404", "415", "422", "429", body=_UPLOAD_BODY, params=[_SLUG]),
        },
        "/api/events/{slug}/held-uploads": {"get": _op(
            "Les envois reçus en entier mais refusés pour leur salle ou leur début", org,
            ("200", {"type": "object"}, "Envois à compléter"), "404", params=[_SLUG])},
        "/api/held-uploads/{upload_id}": {"post": _op(
            "Corriger la salle ou le début d’un envoi gardé, et l’admettre sans renvoi", org,
            ("201", _ref("Uploaded"), "Admis, analyse en file"), "400", "404", "422",
            params=[_path_param("upload_id", "Identifiant du téléversement")],
            body=_body(HeldCorrection))},
        "/api/recordings/{id}": {"delete": _op(
            "Supprimer un enregistrement erroné : ses séances sont retirées du site, rien "
            "d’autre ne change", org, ("200", {"type": "object"}, "Supprimé"), "404",
            params=[_RECORDING])},
        "/api/recordings/{id}/audio": {"get": _op(
            "Un extrait audio (WAV, une minute au plus) de start à end secondes", org,
            ("200", {"type": "string"}, "audio/wav"), "400", "404", "409",
            params=[_RECORDING, *_AT])},
        "/api/recordings/{id}/waveform": {"get": _op(
            "La forme d’onde et la parole détectée autour de « at » secondes", org,
            ("200", {"type": "object"}, "Forme d’onde"), "400", "404", "409",
            params=[_RECORDING, {"name": "at", "in": "query", "required": True,
                                 "schema": {"type": "number"}}])},
        "/api/events/{slug}/sessions": {"get": _op(
            "L’état de chaque session", any_role, ("200", _ref("SessionList"), "Sessions"),
            "404", params=[_SLUG])},
        "/api/recordings/{id}/plan": {"get": _op("Le plan de découpe", org, plan, "404",
                                                 params=[_RECORDING])},
        "/api/recordings/{id}/plan/confirm": {"post": _op(
            "Valider le plan", org, plan, "404", "409", params=[_RECORDING])},
        "/api/recordings/{id}/plan/{guid}": {"patch": _op(
            "Déplacer les limites d’une session (seule cette session est retraitée)", org,
            plan, "400", "404", "409", "422", body=_body(CutMove), params=[_RECORDING, _GUID])},
        "/api/sessions/{id}/{guid}/retry": {"post": _op(
            "Relancer l’étape en échec", org, job, "404", "409", params=[_RECORDING, _GUID])},
        "/api/sessions/{id}/{guid}/publish": {"post": _op(
            "Publier la session", org, job, "404", "409", params=[_RECORDING, _GUID])},
        "/api/sessions/{id}/{guid}/unpublish": {"post": _op(
            "Retirer la session du site", org,
            ("202", {"type": "object", "required": ["unpublished", "job"], "properties": {
                "unpublished": {"type": "array", "items": {"type": "string"}},
                "job": {"type": "integer"}}},
             "Retrait demandé\u00a0: la publication de l’évènement le fait"), "404",
            "409", params=[_RECORDING, _GUID])},
        **_caption_paths(),
        **_live_paths(),
        "/api/uploads/": {"options": _tus_op("Capacités tus", "204"),
                          "post": _tus_op("Créer un téléversement", "201")},
        "/api/uploads/{upload_id}": {
            "parameters": [_path_param("upload_id", "Identifiant du téléversement")],
            "options": _tus_op("Capacités tus", "204"),
            "head": _tus_op("Position du téléversement", "200"),
            "patch": _tus_op("Envoyer un morceau", "204"),
            "delete": _tus_op("Abandonner le téléversement", "204"),
        },
    }


_LANG: Final = _path_param("lang", "Langue des sous-titres : fr ou en")
_CAPTION_PARAMS: Final = [_RECORDING, _GUID, _LANG]
_CHAPTER_PARAMS: Final = [_RECORDING, _GUID]


def _body(model: type[Body]) -> JSONObj:
    """A JSON request body: `model`'s schema."""
    return {"required": True, "content": {"application/json": {"schema": _ref(model.__name__)}}}


def _caption_paths() -> JSONObj:
    editor, org = "éditeur ou organisateur", "organisateur"
    caps = ("200", _ref("Captions"), "Les sous-titres (en-tête ETag \"v<version>\")")
    obj = {"type": "object"}
    base = "/api/captions/{id}/{guid}/{lang}"
    params = _CAPTION_PARAMS
    return {
        base: {
            "get": _op("Les sous-titres actuels", editor, caps, "404", "409", params=params),
            "put": _op("Enregistrer une nouvelle version (If-Match requis)", editor, caps,
                       "400", "404", "409", "422", "428", "429", body=_body(CaptionsChange),
                       params=params)},
        f"{base}/history": {"get": _op("L’historique des versions", editor,
                                       ("200", obj, "Versions"), "404", "409", params=params)},
        f"{base}/versions/{{n}}": {"get": _op(
            "Une version", editor, ("200", obj, "Version"), "404", "409",
            params=[*params, _path_param("n", "Numéro de version", integer=True)])},
        f"{base}/diff": {"get": _op(
            "Les changements entre deux versions (from, to)", editor,
            ("200", obj, "Changements"), "404", "409", params=[*params, *(
                {"name": n, "in": "query", "required": False, "schema": {"type": "integer"}}
                for n in ("from", "to"))])},
        f"{base}/revert": {"post": _op(
            "Rétablir une version (crée une nouvelle version ; If-Match requis)", editor,
            caps, "400", "404", "409", "428",
            body=_body(Revert), params=params)},
        f"{base}/status": {"post": _op(
            "Changer l’étape : en_relecture, valide, publie (publier : organisateur, ou "
            "éditeur si l’événement le permet)", editor, ("200", obj, "Nouvelle étape"),
            "400", "404", "409",
            body=_body(StatusChange), params=params)},
        f"{base}/claim": {
            "post": _op("Prendre la session en charge", editor, ("200", obj, "Prise"), "404",
                        "409", params=params),
            "delete": _op("Libérer la session", editor, ("200", obj, "Libérée"), "404",
                          "409", params=params)},
        f"{base}/export.vtt": {"get": _op("Télécharger en WebVTT", editor,
                                          ("200", {"type": "string"}, "text/vtt"), "404",
                                          "409", params=params)},
        f"{base}/export.srt": {"get": _op("Télécharger en SRT", editor,
                                          ("200", {"type": "string"}, "SubRip"), "404",
                                          "409", params=params)},
        f"{base}/import": {"post": _op(
            "Importer un fichier .vtt ou .srt (strict ; If-Match requis)", editor, caps, "400",
            "404", "409", "413", "415", "422", "428", "429", params=params, body={
                "required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}}}}}})},
        "/api/events/{slug}/replace": {"post": _op(
            "Chercher et remplacer dans une session ou tout l’événement (aperçu, puis "
            "apply avec les versions de l’aperçu)", editor, ("200", obj, "Changements"),
            "400", "404", "409", "422", "428", params=[_SLUG], body=_body(Replacement))},
        "/api/events/{slug}/options": {
            "get": _op("Règle de publication et options des sous-titres de l’évènement", org,
                       ("200", _ref("CaptionOptions"), "Options"), "404", params=[_SLUG]),
            "put": _op("Changer les options des sous-titres", org,
                       ("200", _ref("CaptionOptions"), "Options"), "400", "404",
                       params=[_SLUG], body=_body(OptionsChange))},
        "/api/events/{slug}/glossary": {
            "get": _op("Le glossaire de l’événement", editor, ("200", _ref("Glossary"),
                                                                "Termes"), "404",
                       params=[_SLUG]),
            "put": _op("Remplacer le glossaire (aussi donné à Whisper)", editor,
                       ("200", _ref("Glossary"), "Termes"), "400", "404", params=[_SLUG],
                       body=_body(GlossaryChange))},
        "/api/chapters/{id}/{guid}": {
            "get": _op("Les chapitres d’une séance", editor,
                       ("200", _ref("Chapters"), "Chapitres"), "404", params=_CHAPTER_PARAMS),
            "put": _op("Remplacer les chapitres d’une séance (publiés avec elle)", editor,
                       ("200", _ref("Chapters"), "Chapitres"), "400", "404",
                       params=_CHAPTER_PARAMS, body=_body(ChaptersChange))},
        "/api/events/{slug}/podcast": {
            "get": _op("Les réglages du podcast de l’évènement (balises iTunes)", org,
                       ("200", _ref("Podcast"), "Réglages"), "404", params=[_SLUG]),
            "put": _op("Changer les réglages du podcast", org,
                       ("200", _ref("Podcast"), "Réglages"), "400", "404", params=[_SLUG],
                       body=_body(PodcastChange))},
    }


def _live_paths() -> JSONObj:
    """The live's stream keys (`replay.live.web`)."""
    org = "organisateur"
    room = _path_param("room", "Salle (son nom ou son identifiant, ex. « pleniere »)")
    key = {"type": "object", "required": ["room", "slug", "live_page", "key"], "properties": {
        "room": {"type": "string"}, "slug": {"type": "string"},
        "live_page": {"type": "string"},
        "key": {"type": ["object", "null"], "properties": {
            "revoked": {"type": "boolean"}, "rtmp_url": {"type": "string"},
            "stream_key": {"type": "string"}, "srt_url": {"type": "string"},
            "srt_passphrase": {"type": "string"}}}}}
    listing = {"type": "object", "properties": {"event": {"type": "string"},
                                                "rooms": {"type": "array", "items": key}}}
    return {
        "/api/events/{slug}/live": {"get": _op(
            "Les URL et clés de diffusion (RTMP, SRT) de chaque salle", org,
            ("200", listing, "Salles"), "404", params=[_SLUG])},
        "/api/events/{slug}/live/{room}/key": {
            "post": _op("Créer ou régénérer la clé d’une salle (l’ancienne cesse de "
                        "fonctionner)", org, ("201", key, "Nouvelle clé"), "404",
                        params=[_SLUG, room]),
            "delete": _op("Révoquer la clé d’une salle", org, ("200", key, "Clé révoquée"),
                          "404", params=[_SLUG, room]),
        },
    }


def openapi_document() -> JSONObj:
    return {
        "openapi": "3.1.0",
        "info": {"title": "replay", "version": "1",
                 "description": "Enregistrements d’événements, découpe par session, "
                                "sous-titres et publication des replays."},
        "security": [{"bearer": []}, {"session": []}],
        "paths": _paths(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "replay_session"},
            },
        },
    }
