"""The streaming policy of the live captions: "local agreement". Pure logic, no I/O.

Whisper is run again and again over a growing window of audio (the buffer). A word is
committed once two successive passes agree on it: the committed words are the longest
common prefix of the previous pass's uncommitted words and the new pass's ones (the
policy of whisper_streaming, Macháček et al. 2023). The buffer is trimmed at the end of
a committed sentence once it grows past `trim_after` seconds, and at the last committed
word (or, failing one, by dropping its oldest audio) past `max_buffer`, so that Whisper
never sees more than one 30 s window.

Two passes may keep disagreeing on a word (hard audio, a weak model), and then nothing
after it can be committed. So a tentative word that ended more than `commit_after`
seconds before the end of the audio heard is committed anyway, as the latest pass has
it: that bounds the latency, at the price of a word the passes did not agree on.

All times are seconds on the take's clock (t = 0 is the take's first audio sample).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from replay.domain.transcript import Word

_SENTENCE_END = re.compile(r"[.?!…][\s»\"”’)\]]*$")
#: How far before the last committed word's end a new word may start and still be new
#: (successive passes place the same boundary a few tens of milliseconds apart).
_OVERLAP_TOLERANCE = 0.1
#: The longest run of already committed words looked for at the start of a new pass.
_MAX_REPEAT = 5
#: Characters of committed text handed to Whisper as context for the next pass.
PROMPT_CHARS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamingParams:
    """`step`: seconds of new audio between two passes; `trim_after`: buffer length past
    which it is cut at a committed sentence end; `max_buffer`: its hard limit (under
    Whisper's 30 s window); `commit_after`: the age past which a tentative word is
    committed without agreement; `settle_margin`: how long before the end of the audio
    seen a word may still begin unseen (the tail of a pass is not yet reliable)."""

    step: float = 1.0
    trim_after: float = 12.0
    max_buffer: float = 24.0
    commit_after: float = 4.0
    settle_margin: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.step < self.max_buffer:
            raise ValueError("step must be above 0 and below max_buffer")
        if not 0 < self.trim_after <= self.max_buffer <= 30:
            raise ValueError("need 0 < trim_after <= max_buffer <= 30 seconds")
        if self.settle_margin < 0 or self.commit_after <= self.step:
            raise ValueError("need settle_margin >= 0 and commit_after > step")


def normalise(text: str) -> str:
    """A word as compared between passes: case folded, accents kept, spaces and
    punctuation left out (« Villes, » and « villes » agree)."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return "".join(char for char in folded if char.isalnum())


def ends_sentence(word: Word) -> bool:
    return bool(_SENTENCE_END.search(word.text.strip()))


@dataclass
class LocalAgreement:
    """The state of one stream: what is committed, and the last pass's tentative words.

    Feed it each pass with `insert`; it returns the words newly committed. `trim_point`
    says where the audio buffer may be cut; `forget_before` is told when it was.
    """

    params: StreamingParams = field(default_factory=StreamingParams)
    #: Committed words still inside the audio buffer (compared with each new pass).
    in_buffer: list[Word] = field(default_factory=list)
    #: The previous pass's words after the committed ones.
    tentative: list[Word] = field(default_factory=list)
    last_end: float = 0.0
    #: Committed text before the buffer, the context of the next pass.
    context: str = ""

    def insert(self, hypothesis: Sequence[Word], audio_end: float) -> list[Word]:
        """Compare a new pass's words (take-clock times) over audio ending at `audio_end`
        with the previous pass's; return the words now committed, in order: those both
        agree on, then those too old to wait any longer."""
        new = self._unseen(hypothesis)
        count = 0
        for previous, word in zip(self.tentative, new, strict=False):
            if normalise(previous.text) != normalise(word.text):
                break
            count += 1
        deadline = audio_end - self.params.commit_after
        while count < len(new) and new[count].end <= deadline:
            count += 1
        committed = [word for word in new[:count] if normalise(word.text)]
        self.tentative = new[count:]
        self._commit(committed)
        return committed

    def flush(self) -> list[Word]:
        """The end of the stream: the last pass's tentative words are all committed."""
        rest = [word for word in self.tentative if normalise(word.text)]
        self.tentative = []
        self._commit(rest)
        return rest

    def settled(self, audio_end: float) -> float:
        """A time before which every word has been committed: no word committed later
        starts before it (to the tolerance of Whisper's timestamps)."""
        horizon = audio_end - self.params.settle_margin
        if self.tentative:
            horizon = min(horizon, self.tentative[0].start)
        return max(horizon, self.last_end)

    def trim_point(self, buffer_start: float, audio_end: float) -> float | None:
        """Where to cut the buffer [buffer_start, audio_end] after a pass, or None."""
        length = audio_end - buffer_start
        if length > self.params.trim_after:
            sentence_end = next((w.end for w in reversed(self.in_buffer) if ends_sentence(w)),
                                None)
            if sentence_end is not None and sentence_end > buffer_start:
                return sentence_end
        room = self.params.max_buffer - self.params.step  # the next step must still fit
        if length > room:
            floor = audio_end - room
            if self.in_buffer and self.in_buffer[-1].end > buffer_start:
                return max(self.in_buffer[-1].end, floor)
            return floor
        return None

    def window_start(self, buffer_start: float, audio_end: float) -> float:
        """Where a pass must begin so as to see at most `max_buffer` seconds (when the
        passes fall behind the audio, its oldest part is given up)."""
        return max(buffer_start, audio_end - self.params.max_buffer)

    def forget_before(self, cut: float) -> None:
        """The buffer now starts at `cut`: committed words before it become context, and
        tentative words before it are dropped (their audio is gone)."""
        leaving = [word for word in self.in_buffer if word.end <= cut]
        self.in_buffer = [word for word in self.in_buffer if word.end > cut]
        self.tentative = [word for word in self.tentative if word.start >= cut]
        text = "".join(word.text for word in leaving)
        self.context = " ".join((self.context + text).split())[-PROMPT_CHARS:]

    def prompt(self) -> str:
        """Committed text before the buffer (the words inside it are heard again)."""
        return self.context

    def _unseen(self, hypothesis: Sequence[Word]) -> list[Word]:
        """The pass's words after what is committed: later than the last committed word,
        and without a repeat of the last committed words at its start."""
        new = [w for w in hypothesis if w.start > self.last_end - _OVERLAP_TOLERANCE]
        if not new or not self.in_buffer or abs(new[0].start - self.last_end) >= 1.0:
            return new
        tail = [normalise(w.text) for w in self.in_buffer[-_MAX_REPEAT:]]
        head = [normalise(w.text) for w in new[:_MAX_REPEAT]]
        for size in range(min(len(tail), len(head)), 0, -1):
            if tail[-size:] == head[:size]:
                return new[size:]
        return new

    def _commit(self, words: Sequence[Word]) -> None:
        if words:
            self.in_buffer.extend(words)
            self.last_end = max(self.last_end, words[-1].end)
