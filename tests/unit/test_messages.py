"""The French message catalogue: every message marked in the code and the pages'
templates is translated, the committed ``.mo`` is the compiled ``.po``, and French dates
and sizes come out as people write them."""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import replay
from replay.locale import LOCALE_DIR, _, format_day, format_moment, format_size
from replay.web.errors import DISK_FULL

PACKAGE = Path(replay.__file__).parent
PO = LOCALE_DIR / "fr" / "LC_MESSAGES" / "replay.po"
NBSP = "\u00a0"
#: Where messages are marked: the Python code, the service's page templates and the
#: published site's.
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


MsgId = str | tuple[str, ...]


def extracted() -> dict[MsgId, set[tuple[str, int]]]:
    """Every marked message (its msgid, or its singular and plural) with where it is
    marked."""
    found: dict[MsgId, set[tuple[str, int]]] = defaultdict(set)
    for filename, line, message, _comments, _context in extract_from_dir(
            PACKAGE, METHODS, keywords=KEYWORDS,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        msgid: MsgId = message if isinstance(message, str) else tuple(message)
        found[msgid].add((filename, line))
    return found


def _catalog() -> dict[MsgId, tuple[str, ...]]:
    """msgid: its French forms (one, or one per plural form)."""
    with PO.open("rb") as source:
        catalog = read_po(source)
    return {(m.id if isinstance(m.id, str) else tuple(m.id)):
            ((m.string,) if isinstance(m.string, str) else tuple(m.string or ()))
            for m in catalog if m.id}


def test_every_marked_message_has_its_french_translation() -> None:
    found, catalog = extracted(), _catalog()
    assert found, "no message marked: the extraction is broken"
    missing = [msgid for msgid in found if not all(catalog.get(msgid, ("",)))]
    assert not missing
    unused = [msgid for msgid in catalog if msgid not in found]
    assert not unused


def test_the_committed_mo_is_the_compiled_po() -> None:
    spec = importlib.util.spec_from_file_location(
        "compile_messages", PACKAGE.parent.parent / "scripts" / "compile_messages.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert PO.with_suffix(".mo").read_bytes() == module.compiled(PO), (
        "run scripts/compile_messages.py")


def test_translations_keep_french_typography() -> None:
    for msgid, forms in _catalog().items():
        for text in forms:
            _check_typography(str(msgid), text)


def _check_typography(msgid: str, text: str) -> None:
    for index, char in enumerate(text):
        if char in ":;?!»" and index > 0:
            before = text[index - 1]
            # 09:28, +01:00, minutes:secondes, https://: a colon in a notation, not
            # punctuation
            notation = char == ":" and (before.isdigit() or text[index + 1:index + 2].isalpha()
                                        or text[index + 1:index + 3] == "//")
            assert notation or before in (NBSP, "\u202f"), (msgid, text)
        if char == "«":
            assert text[index + 1] in (NBSP, "\u202f"), (msgid, text)
    assert "'" not in text, (msgid, text)  # the apostrophe is ’
    for field in ("{status}", "{reason}", "{minutes}", "{day}", "{time}", "%(status)s", "{n}",
                  "{0}", "{1}", "{2}", "{message}", "{eta}", "{seconds}", "{text}"):
        assert (field in msgid) == (field in text), (msgid, text)


def test_messages_are_french() -> None:
    assert _("Login required.") == "Connexion requise."
    assert _(DISK_FULL) == (f"Le disque du serveur est plein{NBSP}: rien n’a été enregistré. "
                            "Réessayez plus tard, ou prévenez l’administrateur pour qu’il "
                            "libère de la place.")
    assert _("Page not found: the address may be wrong, or the page was moved or "
             "removed.") == (f"Page introuvable{NBSP}: l’adresse est peut-être erronée, ou "
                             "la page a été déplacée ou retirée.")


@pytest.mark.parametrize(("day", "text"), [
    (date(2026, 3, 3), "mardi 3 mars 2026"), (date(2026, 2, 1), "dimanche 1 février 2026"),
    (date(2025, 8, 15), "vendredi 15 août 2025"),
])
def test_french_dates(day: date, text: str) -> None:
    assert format_day(day) == text


def test_french_moments() -> None:
    moment = datetime(2026, 3, 3, 9, 28, tzinfo=ZoneInfo("Europe/Paris"))
    assert format_moment(moment) == "mardi 3 mars 2026 à 09:28"


@pytest.mark.parametrize(("size", "text"), [
    (0, f"0{NBSP}octets"), (999, f"999{NBSP}octets"), (1500, f"1,5{NBSP}ko"),
    (99_950, f"100,0{NBSP}ko"), (20_000_000, f"20,0{NBSP}Mo"),
    (1_234_567_890, f"1,2{NBSP}Go"), (5 * 10**15, f"5000{NBSP}To"),
])
def test_french_sizes(size: int, text: str) -> None:
    assert format_size(size) == text
