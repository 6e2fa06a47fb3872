"""Subtitle cues from timed words, to reading-speed rules. Pure logic, no I/O.

Times are handled in whole milliseconds inside this module (WebVTT's precision),
so that what is formatted here renders and parses back unchanged.

Counting: a cue's length is the number of visible characters of its lines joined
by one space (the line break counts as one character, like the space it
replaces; a non-breaking space counts as one; WebVTT tags count for nothing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from replay.domain.transcript import Cue, Segment

NBSP = "\u00a0"

_EPS = 1e-9
_TOLERANCE = 0.0005  # half a millisecond: times are kept to the millisecond
# Spaces a line may break at: every whitespace except the non-breaking ones.
_BREAKABLE_SPACE = re.compile(r"[^\S\u00a0\u2007\u202f]+")
_TAG = re.compile(r"<[^<>\n]*>")
_SENTENCE_END = re.compile(r"[.?!…]+[»\"”’)\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–]+[»\"”’)\]]*$")
_CLOSING = frozenset("?!:;».,…)]}”%")
_FRENCH_SPACED_CLOSING = frozenset("?!:;»%")
_OPENING = frozenset("«([{“")
# Words that should not end a line or a cue: articles, short prepositions, and
# (checked apart) any one-letter word and any elided word (« l’ », « d’ »).
_WEAK_WORDS = frozenset(
    {
        "le", "la", "les", "un", "une", "des", "du", "de", "au", "aux", "ce", "ces",
        "cet", "cette", "en", "et", "ou", "sur", "par", "pour", "dans", "the", "an",
        "of", "to", "in", "on", "and", "or", "for", "at", "by",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingRules:
    """How much text a viewer can read, and how cues are laid out and timed.

    `speed_points` are (seconds, characters) points of the reading-speed curve,
    interpolated linearly from (0, 0); beyond the last point (or everywhere when
    there is none) `chars_per_second` applies. `lone_word_min_duration`, when
    set, replaces `min_duration` for a cue made of a single word.
    """

    max_line_chars: int
    max_lines: int = 2
    min_duration: float
    max_duration: float
    min_gap: float = 0.08
    chars_per_second: float
    speed_points: tuple[tuple[float, float], ...] = ()
    lone_word_min_duration: float | None = None
    silence_split: float = 1.2
    french_spacing: bool = False

    def max_chars(self, duration: float) -> int:
        """The most characters a cue shown for `duration` seconds may hold."""
        if duration <= 0:
            return 0
        return math.floor(self._chars_at(duration) + _EPS)

    def reading_time(self, chars: int) -> float:
        """The shortest duration (seconds) at which `chars` characters can be read."""
        if chars <= 0:
            return 0.0
        points = ((0.0, 0.0), *self.speed_points)
        for (d0, c0), (d1, c1) in pairwise(points):
            if chars <= c1:
                return d0 + (d1 - d0) * (chars - c0) / (c1 - c0)
        last_d, last_c = points[-1]
        return last_d + (chars - last_c) / self.chars_per_second

    def min_duration_for(self, text: str) -> float:
        """The minimum duration of a cue showing `text`."""
        lone = len(_pieces(_visible(text))) == 1
        if lone and self.lone_word_min_duration is not None:
            return self.lone_word_min_duration
        return self.min_duration

    def _chars_at(self, duration: float) -> float:
        points = ((0.0, 0.0), *self.speed_points)
        for (d0, c0), (d1, c1) in pairwise(points):
            if duration <= d1:
                return c0 + (c1 - c0) * (duration - d0) / (d1 - d0)
        last_d, last_c = points[-1]
        return last_c + self.chars_per_second * (duration - last_d)


# Arcom (ex-CSA) charter. Below 1 s the 12 characters a second go on down to 0.
# A lone word may stay 0.8 s (20 frames at 25 fps, the European frame rate)
# instead of 1 s: « Merci. » or « Bonjour ! » is read at a glance.
FRENCH_ARCOM = ReadingRules(
    max_line_chars=40,
    max_lines=2,
    min_duration=1.0,
    max_duration=7.0,
    min_gap=0.08,
    chars_per_second=15.0,
    speed_points=((1.0, 12.0), (2.0, 20.0), (3.0, 36.0), (4.0, 60.0)),
    lone_word_min_duration=0.8,
    french_spacing=True,
)

# Netflix timed-text style guide (English): 42 characters a line, 17 a second,
# 5/6 s (20 frames at 24 fps) to 7 s a cue.
ENGLISH_NETFLIX = ReadingRules(
    max_line_chars=42,
    max_lines=2,
    min_duration=5 / 6,
    max_duration=7.0,
    min_gap=0.08,
    chars_per_second=17.0,
)


def rules_for(language: str) -> ReadingRules:
    """Rules for a language tag ("fr", "fr-FR", "en_GB"...).

    French gets Arcom's rules; any other language Netflix's English ones, which
    are Netflix's general rules for most languages written in Latin script.
    """
    primary = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    return FRENCH_ARCOM if primary == "fr" else ENGLISH_NETFLIX


@dataclass(frozen=True, slots=True)
class _Token:
    """A unit of text never split across lines, with its times in milliseconds."""

    text: str
    start: int
    end: int


def format_cues(segments: Sequence[Segment], rules: ReadingRules) -> list[Cue]:
    """Group timed words into cues that fit `rules`, laid out and timed."""
    tokens = _monotonic(_glue(list(_segment_tokens(segments)), rules.french_spacing))
    groups = _group(tokens, rules)
    return _timed(groups, rules)


def break_lines(text: str, rules: ReadingRules) -> tuple[str, ...]:
    """Lay `text` out in balanced lines (at most `max_lines` whenever it fits)."""
    words = [tok.text for tok in _glue(_text_tokens(text, 0, 0), rules.french_spacing)]
    return _layout(words, rules)


def cue_warnings(cue: Cue, rules: ReadingRules, next_cue: Cue | None = None) -> list[str]:
    """Machine codes of the rules `cue` breaks (an empty list when it is fine)."""
    text = _visible(" ".join(cue.lines))
    chars = len(text)
    checks = (
        ("empty", not text.strip()),
        ("empty_line", any(not _visible(line).strip() for line in cue.lines)),
        ("too_many_lines", len(cue.lines) > rules.max_lines),
        ("line_too_long", any(len(_visible(ln)) > rules.max_line_chars for ln in cue.lines)),
        ("reading_speed", chars > rules.max_chars(cue.duration + _EPS)),
        ("too_short", cue.duration < rules.min_duration_for(text) - _TOLERANCE),
        ("too_long", cue.duration > rules.max_duration + _TOLERANCE),
        ("overlap", next_cue is not None and next_cue.start < cue.end - _TOLERANCE),
        ("too_close", next_cue is not None and _too_close(cue, next_cue, rules)),
    )
    return [code for code, failed in checks if failed]


def _too_close(cue: Cue, next_cue: Cue, rules: ReadingRules) -> bool:
    gap = next_cue.start - cue.end
    return -_TOLERANCE <= gap < rules.min_gap - _TOLERANCE


# --- words ------------------------------------------------------------------


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _visible(text: str) -> str:
    return _TAG.sub("", text)


def _pieces(text: str) -> list[str]:
    return [piece for piece in _BREAKABLE_SPACE.split(text) if piece.strip()]


def _text_tokens(text: str, start: int, end: int) -> list[_Token]:
    """`text`'s words spread over [start, end] in proportion to their length."""
    pieces = _pieces(text)
    weights = [len(piece) + 1 for piece in pieces]
    total = sum(weights)
    tokens: list[_Token] = []
    done = 0
    for piece, weight in zip(pieces, weights, strict=True):
        begin = start + (end - start) * done // total
        done += weight
        tokens.append(_Token(piece, begin, start + (end - start) * done // total))
    return tokens


def _segment_tokens(segments: Sequence[Segment]) -> Iterator[_Token]:
    for segment in segments:
        tokens: list[_Token] = []
        for word in segment.words:
            pieces = _text_tokens(word.text, _ms(word.start), _ms(word.end))
            if pieces and tokens and _continues(word.text):
                tokens[-1] = _merge(tokens[-1], pieces.pop(0), "")
            tokens.extend(pieces)
        if not tokens:
            start = _ms(segment.start)
            tokens = _text_tokens(segment.text, start, max(start, _ms(segment.end)))
        yield from tokens


def _continues(word: str) -> bool:
    """Whisper starts every new word with a space: a piece without one (« 'ont » after
    « m », « -il » after « -t ») belongs to the word before it."""
    return bool(word) and not word[0].isspace()


def _is_closing(text: str) -> bool:
    return all(char in _CLOSING for char in text)


def _is_opening(text: str) -> bool:
    return all(char in _OPENING for char in text)


def _merge(first: _Token, second: _Token, separator: str) -> _Token:
    text = first.text + separator + second.text
    return _Token(text, min(first.start, second.start), max(first.end, second.end))


def _glue(tokens: list[_Token], french: bool) -> list[_Token]:
    """Attach lone punctuation to its word, with a non-breaking space in French, where
    French typography also wants one inside a word (« tous? », « «Oui ») and between
    the digit groups of a number (« 1 000 »)."""
    out: list[_Token] = []
    for token in tokens:
        if french:
            token = _Token(french_spacing(token.text), token.start, token.end)
        if out and _is_closing(token.text):
            spaced = french and token.text[0] in _FRENCH_SPACED_CLOSING
            out[-1] = _merge(out[-1], token, NBSP if spaced else "")
        elif out and _is_opening(out[-1].text):
            spaced = french and out[-1].text.endswith("«")
            out[-1] = _merge(out[-1], token, NBSP if spaced else "")
        elif out and french and _digit_group(out[-1].text, token.text):
            out[-1] = _merge(out[-1], token, NBSP)
        else:
            out.append(token)
    return out


_SPACE_BEFORE = re.compile(r"(?<=[^\s\u00a0«(\[{“;:!?%])([;!?»%]|:(?![\d/]))")
_SPACE_AFTER = re.compile(r"«(?=[^\s\u00a0])")
_GROUP_HEAD = re.compile(r"[-+−]?\d{1,3}(?:\u00a0\d{3})*")
_GROUP_TAIL = re.compile(r"\d{3}(?!\d)\D*")


def french_spacing(text: str) -> str:
    """A no-break space before « ; : ! ? % » and inside « », where the word has none
    (« tous? » becomes « tous ? »); a colon between digits (« 10:30 ») stays as it is,
    and a run of marks (« ?! ») takes one space, before the first."""
    text = _SPACE_BEFORE.sub(lambda m: NBSP + m.group(1), text)
    return _SPACE_AFTER.sub("«" + NBSP, text)


def _digit_group(previous: str, current: str) -> bool:
    """« 1 » then « 000 »: the groups of one number, which must stay on one line."""
    return bool(_GROUP_HEAD.fullmatch(previous) and _GROUP_TAIL.fullmatch(current))


def _monotonic(tokens: list[_Token]) -> list[_Token]:
    """Starts strictly increasing and every token at least 1 ms long."""
    out: list[_Token] = []
    previous = -1
    for token in tokens:
        start = max(token.start, previous + 1)
        out.append(_Token(token.text, start, max(token.end, start + 1)))
        previous = start
    return out


def _is_weak(word: str) -> bool:
    bare = word.strip('«»"“”()[],;:.?!…' + NBSP).lower()
    return len(bare) <= 1 or bare.endswith(("'", "’")) or bare in _WEAK_WORDS


# --- grouping words into cues ----------------------------------------------


def _group(tokens: list[_Token], rules: ReadingRules) -> list[list[_Token]]:
    groups: list[list[_Token]] = []
    first = 0
    while first < len(tokens):
        stop, hard = _window(tokens, first, rules)
        end = stop if hard else _best_break(tokens, first, stop, rules)
        groups.append(tokens[first:end])
        first = end
    return groups


def _silence(before: _Token, after: _Token, rules: ReadingRules) -> bool:
    return after.start - before.end > _ms(rules.silence_split)


def _window(tokens: list[_Token], first: int, rules: ReadingRules) -> tuple[int, bool]:
    """The end (exclusive) of the longest run from `first` that fits in one cue,
    and whether that end is a hard boundary (a long silence, or no more words)."""
    stop = first + 1
    while stop < len(tokens):
        if _silence(tokens[stop - 1], tokens[stop], rules):
            return stop, True
        if not _fits(tokens[first : stop + 1], rules):
            return stop, False
        stop += 1
    return stop, True


def _fits(tokens: list[_Token], rules: ReadingRules) -> bool:
    if tokens[-1].end - tokens[0].start > _ms(rules.max_duration):
        return False
    return _line_count([tok.text for tok in tokens], rules.max_line_chars) <= rules.max_lines


def _line_count(words: Sequence[str], width: int) -> int:
    """Lines a greedy fill needs: the fewest possible, an over-long word alone."""
    lines, current = 1, len(words[0])
    for word in words[1:]:
        if current + 1 + len(word) <= width:
            current += 1 + len(word)
        else:
            lines, current = lines + 1, len(word)
    return lines


def _best_break(tokens: list[_Token], first: int, stop: int, rules: ReadingRules) -> int:
    """Where to end the cue that starts at `first`, within (first, stop]."""
    capacity = rules.max_lines * rules.max_line_chars
    best, best_score = stop, -math.inf
    for end in range(first + 1, stop + 1):
        chars = len(" ".join(tok.text for tok in tokens[first:end]))
        pause = tokens[end].start - tokens[end - 1].end if end < len(tokens) else 0
        score = _break_strength(tokens[end - 1].text) + chars / capacity
        score += 0.25 if pause >= 300 else 0.0
        score -= 0.5 if 0 < _rest_of_sentence(tokens, end, rules) < capacity / 3 else 0.0
        if score >= best_score:
            best, best_score = end, score
    return best


def _rest_of_sentence(tokens: list[_Token], first: int, rules: ReadingRules) -> int:
    """Characters from `first` to the end of its sentence (capped at a cue's capacity):
    a short rest would make an orphan cue."""
    capacity = rules.max_lines * rules.max_line_chars
    chars = -1
    for index in range(first, len(tokens)):
        if index > first and _silence(tokens[index - 1], tokens[index], rules):
            break
        chars += 1 + len(tokens[index].text)
        if chars >= capacity or _SENTENCE_END.search(tokens[index].text):
            break
    return max(chars, 0)


def _break_strength(word: str) -> float:
    if _SENTENCE_END.search(word):
        return 1.0
    if _CLAUSE_END.search(word):
        return 0.5
    return -0.5 if _is_weak(word) else 0.0


# --- lines --------------------------------------------------------------------


def _layout(words: Sequence[str], rules: ReadingRules) -> tuple[str, ...]:
    if not words:
        return ()
    single = " ".join(words)
    if len(single) <= rules.max_line_chars or len(words) == 1:
        return (single,)
    if rules.max_lines >= 2 and _line_count(words, rules.max_line_chars) <= 2:
        return _balanced_split(words, rules.max_line_chars)
    return _greedy_lines(words, rules.max_line_chars)


def _balanced_split(words: Sequence[str], width: int) -> tuple[str, str]:
    """Two lines, broken near the middle, after punctuation where it can."""
    candidates: list[tuple[float, int]] = []
    for cut in range(1, len(words)):
        top, bottom = " ".join(words[:cut]), " ".join(words[cut:])
        if (len(top) > width and cut > 1) or (len(bottom) > width and cut < len(words) - 1):
            continue
        cost = abs(len(top) - len(bottom)) + (0.5 if len(top) > len(bottom) else 0.0)
        cost -= width * _line_end_bonus(words[cut - 1])
        candidates.append((cost, cut))
    cut = min(candidates)[1]
    return " ".join(words[:cut]), " ".join(words[cut:])


def _line_end_bonus(word: str) -> float:
    if _SENTENCE_END.search(word):
        return 0.5
    if _CLAUSE_END.search(word):
        return 0.25
    return -10.0 if _is_weak(word) else 0.0


def _greedy_lines(words: Sequence[str], width: int) -> tuple[str, ...]:
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines)


# --- timing ---------------------------------------------------------------------


def _timed(groups: list[list[_Token]], rules: ReadingRules) -> list[Cue]:
    cues: list[Cue] = []
    for index, group in enumerate(groups):
        lines = _layout([tok.text for tok in group], rules)
        next_start = groups[index + 1][0].start if index + 1 < len(groups) else None
        start = group[0].start
        end = _fit_end(start, group[-1].end, lines, next_start, rules)
        cues.append(Cue(start / 1000, end / 1000, lines))
    return cues


def _fit_end(
    start: int, end: int, lines: tuple[str, ...], next_start: int | None, rules: ReadingRules
) -> int:
    """Extend `end` into the silence until the cue can be read, never past the
    next cue's start minus the gap, never beyond the longest duration."""
    text = " ".join(lines)
    max_end = start + _ms(rules.max_duration)
    needed = max(rules.min_duration_for(text), rules.reading_time(len(text)))
    need = start + math.ceil(1000 * needed)
    limit = max_end if next_start is None else min(max_end, next_start - _ms(rules.min_gap))
    end = min(end, max_end)
    if end < need:
        end = max(end, min(need, limit))
    if next_start is not None and end > next_start - _ms(rules.min_gap):
        gap_end = next_start - _ms(rules.min_gap)
        end = gap_end if gap_end > start else min(end, next_start)
    return end


def rules_data(rules: ReadingRules) -> dict[str, object]:
    """`rules` as plain data (JSON-ready) for the checks `cue_warnings` makes, so that
    another implementation (the editor's script) applies the same limits: every field
    `cue_warnings` reads, with the tolerance on times and the rounding epsilon."""
    return {
        "max_line_chars": rules.max_line_chars, "max_lines": rules.max_lines,
        "min_duration": rules.min_duration, "max_duration": rules.max_duration,
        "min_gap": rules.min_gap, "chars_per_second": rules.chars_per_second,
        "speed_points": [list(point) for point in rules.speed_points],
        "lone_word_min_duration": rules.lone_word_min_duration,
        "tolerance": _TOLERANCE, "epsilon": _EPS,
    }
