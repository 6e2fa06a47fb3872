"""People's words in one catalogue: messages through gettext, dates and sizes through
Babel, in French.

Messages are written in English in the code, marked ``_("...")`` where they are said, or
``N_("...")`` where they are only defined (a table of messages), and translated from
``locale/fr/LC_MESSAGES/replay.po``, ready for another language. The compiled
``replay.mo`` beside it is committed; ``scripts/compile_messages.py`` builds it from the
``.po``, and ``tests/unit/test_messages.py`` checks that it is up to date and that every
marked message has its French translation.

The catalogue is read on first use, never at import time.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Final

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal

# `N_` marks `message` for the catalogue without translating it (tables of messages,
# translated with `_` where they are used): the domain's, which may not import this module.
from replay.domain.errors import N_ as N_
from replay.domain.errors import ReplayError

DOMAIN: Final = "replay"
LOCALE_DIR: Final = Path(__file__).parent
LANGUAGE: Final = "fr"
BABEL_LOCALE: Final = "fr_FR"
NBSP: Final = "\u00a0"


@cache
def translations() -> gettext.NullTranslations:
    """The French catalogue (untranslated English if it were missing: never silent, the
    test of the catalogue fails first)."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[LANGUAGE],
                               fallback=True)


def _(message: str) -> str:
    """`message` in French."""
    return translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The French form of a message that depends on the number `n`."""
    return translations().ngettext(singular, plural, n)


def describe(error: ReplayError) -> str:
    """`error`'s message in French (the domain's errors carry an English message and its
    values, whole numbers as numbers; the faces' are already French, and pass unchanged)."""
    return error.render(_, format_number)


def format_number(number: int) -> str:
    """« 20 000 »: a whole number, its thousands set apart by a narrow no-break space."""
    return str(format_decimal(number, locale=BABEL_LOCALE))


def format_day(day: date) -> str:
    """« mardi 3 mars 2026 »."""
    return str(_babel_date(day, "EEEE d MMMM y", locale=BABEL_LOCALE))


def format_moment(moment: datetime) -> str:
    """« mardi 3 mars 2026 à 09:28 » (in the moment's own time zone)."""
    return _("{day} at {time}").format(day=format_day(moment.date()),
                                       time=moment.strftime("%H:%M"))


def format_seconds(seconds: float) -> str:
    """« 3,5 s »: a duration to the tenth of a second."""
    return f"{format_decimal(seconds, '0.0', locale=BABEL_LOCALE)}{NBSP}s"


def format_size(size: int) -> str:
    """« 1,5 Go », « 820 Mo »: sizes for people, with a non-breaking space."""
    value, unit = float(size), SIZE_UNITS[0]
    for unit in SIZE_UNITS:
        if value < 1000 or unit == SIZE_UNITS[-1]:
            break
        value /= 1000
    pattern = "0" if unit == SIZE_UNITS[0] or value >= 100 else "0.0"
    return f"{format_decimal(value, pattern, locale=BABEL_LOCALE)}{NBSP}{_(unit)}"


#: Decimal units, as file managers show them.
SIZE_UNITS: Final = (N_("bytes"), N_("kB"), N_("MB"), N_("GB"), N_("TB"))
