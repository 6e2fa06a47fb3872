"""``GET /edition/regles-de-lecture.json``: the reading rules the editor's script checks,
served from the Python rules (`replay.domain.cues`: Arcom's for French, Netflix's for
English) so that the browser never keeps limits of its own.

The rules are public (they are the charters' figures): no login is needed.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from replay.domain.cues import rules_data, rules_for

PATH: Final = "/edition/regles-de-lecture.json"
LANGUAGES: Final = ("fr", "en")


def reading_rules() -> dict[str, dict[str, object]]:
    """Per language the editor shows, the rules as `rules_data` gives them."""
    return {language: rules_data(rules_for(language)) for language in LANGUAGES}


async def reading_rules_json(request: web.Request) -> web.Response:
    return web.json_response(reading_rules(), headers={"Cache-Control": "no-cache"})


def setup_reading_rules(app: web.Application) -> None:
    app.router.add_get(PATH, reading_rules_json, name="regles-de-lecture")
