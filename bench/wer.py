"""Word error rate of a French transcript against what was said.

Both sides are normalised alike: lower case, punctuation and apostrophes as spaces,
hyphens split, numbers written in digits spelled out in French (Whisper writes
« 2030 » for « deux mille trente »).
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_UNITS = [
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
    "onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
]
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def _below_100(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    if n < 70:
        tens, unit = divmod(n, 10)
        joint = " et " if unit == 1 else " "
        return _TENS[tens] + ("" if unit == 0 else joint + _UNITS[unit])
    if n < 80:
        return "soixante" + (" et " if n == 71 else " ") + _UNITS[n - 60]
    return "quatre vingt" + ("" if n == 80 else " " + _UNITS[n - 80])


def _below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    head = "" if hundreds == 0 else ("cent" if hundreds == 1 else f"{_UNITS[hundreds]} cent")
    tail = "" if rest == 0 and hundreds else _below_100(rest)
    return f"{head} {tail}".strip()


def spell_number(n: int) -> str:
    """0 to 999 999 in French words (hyphens as spaces, the way they are compared)."""
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return _below_1000(rest)
    head = "mille" if thousands == 1 else f"{_below_1000(thousands)} mille"
    return f"{head} {_below_1000(rest)}".strip() if rest else head


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.casefold()).replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {spell_number(int(m.group()))} "
                  if len(m.group()) <= 6 else m.group(), text)
    return _WORD.findall(text)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Substitutions, deletions and insertions over the number of words said."""
    said = words(reference)
    return edit_distance(said, words(hypothesis)) / max(1, len(said))


def wer_counts(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, words said): sum these over sessions for a corpus-level rate."""
    said = words(reference)
    return edit_distance(said, words(hypothesis)), len(said)
