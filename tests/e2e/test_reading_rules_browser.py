"""The editor's reading-rule checks (``reading-rules.js`` in Chromium, with the rules the
application serves at ``/edition/regles-de-lecture.json``) agree with the Python rules
(`replay.domain.cues.cue_warnings`) on the same cues: a table of edge cases per rule, and a
few hundred random cues."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from replay.domain.captions import clean_lines
from replay.domain.cues import cue_warnings, rules_for
from replay.domain.transcript import Cue
from replay.settings import Settings
from replay.web.app import create_app
from replay.web.reading_rules import PATH

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.browser

NBSP = "\u00a0"
#: (start, end, text) of a cue, then of the next one (or None).
Case = tuple[float, float, str, "tuple[float, float] | None"]
CASES: list[Case] = [
    (0.0, 1.0, "Bonjour à tous.", None),
    (0.0, 1.0, "Bonjour à toutes et tous.", None),
    (0.0, 0.8, "Merci.", None),
    (0.0, 0.8, f"Bonjour{NBSP}!", None),
    (0.0, 0.8, "Bonjour !", None),
    (0.0, 0.79, "Merci.", None),
    (0.0, 0.85, "Thank you.", None),
    (0.0, 0.8, "Thanks.", None),
    (0.0, 2.0, "Douze lettres et huit.", None),
    (0.0, 2.0, "Vingt et un caractères", None),
    (0.0, 3.0, "Une ligne de trente-six caractères..", None),
    (0.0, 4.0, "x" * 40 + "\n" + "y" * 19, None),
    (0.0, 4.0, "x" * 41, None),
    (0.0, 4.0, "x" * 42, None),
    (0.0, 4.0, "x" * 43, None),
    (0.0, 3.0, "une\ndeux\ntrois", None),
    (0.0, 7.0, "Sept secondes.", None),
    (0.0, 7.001, "Sept secondes et un peu.", None),
    (0.0, 7.0005, "Sept secondes, à la demi-milliseconde.", None),
    (0.0, 2.0, "Collé au suivant.", (2.0, 3.0)),
    (0.0, 2.0, "Presque collé.", (2.079, 3.0)),
    (0.0, 2.0, "Juste assez loin.", (2.08, 3.0)),
    (0.0, 2.0, "Chevauche.", (1.9, 3.0)),
    (0.0, 2.0, "<i>En italique</i> et <b>gras</b>.", None),
    (0.0, 1.0, "<i></i>\nMot", None),
    (0.0, 1.5, "Émoticônes 🎉🎉🎉🎉🎉🎉🎉🎉🎉", None),
    (0.0, 1.0, "   \n  ", None),
    (0.0, 5.5, "Une phrase un peu longue qui prend son temps\npour être lue en entier.", None),
    (0.0, 6.0, "Un texte de quatre-vingts caractères environ, réparti\nsur deux lignes.", None),
    (10.0, 10.5, "Court", (10.6, 12.0)),
]


def _random_cases(seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)
    words = ["le", "la", "séance", "climat", "ville", "neutre", "Bonjour", "!", "?", "«",
             "»", "mobilité", "<i>important</i>", "énergie", "42", "km", "—", "🎉", "cities",
             "smart", "and", "the", f"{NBSP}:", "l’Europe", "aujourd’hui"]
    cases: list[Case] = []
    for _ in range(count):
        start = rng.randrange(0, 60_000) / 1000
        end = start + rng.randrange(1, 9_000) / 1000
        lines = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 9)))
                 for _ in range(rng.randrange(1, 4))]
        following = None
        if rng.random() < 0.6:
            next_start = end + rng.randrange(-300, 300) / 1000
            following = (next_start, next_start + 2.0)
        cases.append((start, end, "\n".join(lines), following))
    return cases


def python_codes(language: str, case: Case) -> list[str]:
    start, end, text, following = case
    cue = Cue(start, end, clean_lines(text))
    after = Cue(following[0], following[1], ("suite",)) if following else None
    return cue_warnings(cue, rules_for(language), after)


@pytest_asyncio.fixture(scope="module")
async def base_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    data = Path(tmp_path_factory.mktemp("rules"))
    server = TestServer(create_app(Settings(data_dir=data, cpu_threads=1), run_workers=False))
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


JS_CODES = """async ({url, language, cases}) => {
  const rules = (await (await fetch(url)).json())[language];
  return cases.map(([start, end, text, following]) => {
    const next = following ? {start: following[0], end: following[1], text: "suite"} : undefined;
    return window.ReadingRules.check(rules, {start, end, text}, next).map((w) => w.code);
  });
}"""


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_the_editor_and_python_check_the_same_rules(page: Page, base_url: str,
                                                          language: str) -> None:
    await page.goto(f"{base_url}{PATH}")
    await page.add_script_tag(url=f"{base_url}/organisateur/static/reading-rules.js")
    cases = CASES + _random_cases(seed=10 if language == "fr" else 11, count=400)
    found: list[Any] = await page.evaluate(JS_CODES, {"url": PATH, "language": language,
                                                      "cases": cases})
    expected = [python_codes(language, case) for case in cases]
    disagreements = [(case, js, py) for case, js, py in zip(cases, found, expected, strict=True)
                     if js != py]
    assert not disagreements, disagreements[:5]
    # The table reaches every rule a cleaned cue can break, in both implementations.
    reached = {code for codes in expected for code in codes}
    assert reached >= {"empty", "too_many_lines", "line_too_long", "reading_speed",
                       "too_short", "too_long", "overlap", "too_close"}
