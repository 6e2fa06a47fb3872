"""The event's search index: every transcript, compact, for the search page's script.

Shape (``search.json``)::

    {"version": 1, "sessions": [
        {"slug": "table-ronde", "title": "…", "speakers": "…",
         "segments": [[0, "Bonjour à toutes et à tous."], [12, "…"]]}]}

Segment starts are whole seconds (what a ``#t=SECONDS`` link takes); texts keep their
accents and case for display, with white space collapsed. Matching is accent- and
case-insensitive in the browser, which folds both the index and the query the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from replay.site.pages import SessionPage

INDEX_VERSION = 1
_SPACE = re.compile(r"[ \t\n\r\f\v]+")  # no-break spaces are typography: kept


def normalise_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def search_index(pages: Sequence[SessionPage]) -> str:
    """The index of ``pages`` in programme order, as compact JSON."""
    ordered = sorted(pages, key=lambda p: (p.session.start, p.session.slug))
    sessions = [
        {
            "slug": page.session.slug,
            "title": normalise_text(page.session.title),
            "speakers": page.speakers,
            "segments": [[int(start), text] for start, raw in page.segments
                         if (text := normalise_text(raw))],
        }
        for page in ordered
    ]
    return json.dumps({"version": INDEX_VERSION, "sessions": sessions},
                      ensure_ascii=False, separators=(",", ":"))
