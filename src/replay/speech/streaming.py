"""One pass of the live captions over an audio window: the port, faster-whisper, a fake.

A pass is blocking (the live captioner runs it in a worker thread). faster-whisper's
`transcribe()` returns a lazy generator, so it is consumed here, inside that thread.
Words come back on the take's clock: `offset` is the take time of the window's first
sample.

faster-whisper pads the features of every window it decodes to 30 s with zeros, and the
encoder's cost grows with its input. A live pass decodes a 5 to 24 s buffer, and most
passes a second, short window too (the tail after the last complete segment). With
`encoder_padding` under 30 the model's `encode` is given only the window's frames and
that many seconds of the zeros after them (`bench/sim_live_captions.py --timing`).

The live captions share the machine with the live ladder, and a late caption is better
than a late video. So the model lives in a thread of its own whose scheduling priority is
lowered (`niceness`), and CTranslate2's threads, started by that thread when the model
loads, inherit it: when both want the CPU, the ladder's ffmpeg gets it first.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np

from replay.domain.transcript import Word
from replay.speech.transcriber import SAMPLE_RATE, WINDOW_SECONDS, Task

log = logging.getLogger(__name__)

#: Whisper's own threshold for a repetition loop (gzip compression ratio of the text).
_LOOP_RATIO = 2.4
#: Tokens a pass may produce per second of audio (fast French is under 6) and above.
_TOKENS_PER_SECOND, _TOKENS_EXTRA = 6, 16
#: Whisper's context: prompt and output together; each part of the prompt is cut to half.
_CONTEXT, _HALF = 448, 223
#: Mel frames per second of audio (10 ms hop).
_FRAMES_PER_SECOND = 100


class StreamingRecognizer(Protocol):
    def recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                  hotwords: str) -> list[Word]:
        """The words heard in `audio` (float32, 16 kHz mono), times plus `offset`."""
        ...


@dataclass(frozen=True, slots=True)
class LiveWhisperConfig:
    """`encoder_padding`: seconds of silence the encoder sees after a window's frames, up
    to Whisper's 30 s in all; 30 gives faster-whisper's own behaviour (always 30 s).
    `niceness`: how much the model's threads yield the CPU (0 not at all, 19 most)."""

    model: str
    task: Task = "transcribe"
    language: str = "fr"
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1
    beam_size: int = 1
    encoder_padding: float = 2.0
    niceness: int = 10


def lower_thread_priority(niceness: int) -> None:
    """Lower the calling thread's scheduling priority by `niceness` (on Linux a nice value
    is per thread, and threads it starts inherit it); nothing where that fails."""
    if niceness <= 0:
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread,
                       os.getpriority(os.PRIO_PROCESS, thread) + niceness)
    except OSError as exc:
        log.warning("live captions keep their CPU priority: %s", exc)


def encoder_frames(filled: int, padding: float) -> int:
    """Mel frames the encoder is given for `filled` frames of audio: those and `padding`
    seconds after them, even (the encoder's stride), at most Whisper's 30 s."""
    wanted = filled + round(padding * _FRAMES_PER_SECOND)
    wanted += wanted % 2
    return max(2, min(int(WINDOW_SECONDS * _FRAMES_PER_SECOND), wanted))


def content_frames(features: np.ndarray) -> int:
    """The frames of a padded window before the zeros it was padded with (a frame of
    audio is never exactly zero in all 80 bands)."""
    filled = np.flatnonzero(np.any(features != 0, axis=-2))
    return int(filled[-1]) + 1 if filled.size else 0


def fitted_encode(encode: Callable[[np.ndarray], Any], padding: float,
                  features: np.ndarray) -> Any:
    """`encode` (faster-whisper's) over a window's frames and `padding` seconds of its
    padding only, instead of all 30 s."""
    return encode(features[..., : encoder_frames(content_frames(features), padding)])


class WhisperStreamingRecognizer:
    """faster-whisper, the model loaded on the first pass. The model is loaded and run in
    the recogniser's own low-priority thread (see the module's docstring): `load` and
    `recognise` may be called from any thread and wait for it."""

    def __init__(self, config: LiveWhisperConfig) -> None:
        self.config = config
        self._model: Any = None
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="live-whisper",
            initializer=lower_thread_priority, initargs=(config.niceness,))

    def load(self) -> None:
        self._thread.submit(self._load).result()

    def recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                  hotwords: str) -> list[Word]:
        return self._thread.submit(self._recognise, audio, offset=offset, prompt=prompt,
                                   hotwords=hotwords).result()

    def close(self) -> None:
        """Let the thread end once a pass under way is over (without waiting for it)."""
        self._thread.shutdown(wait=False)

    def _load(self) -> None:
        if self._model is None:
            from faster_whisper import WhisperModel

            log.info("loading Whisper model %s for live %s", self.config.model,
                     self.config.task)
            self._model = WhisperModel(self.config.model, device=self.config.device,
                                       compute_type=self.config.compute_type,
                                       cpu_threads=self.config.cpu_threads, num_workers=1)
            if self.config.encoder_padding < WINDOW_SECONDS:
                # generate_segments calls the model's encode for each window it decodes.
                self._model.encode = partial(fitted_encode, self._model.encode,
                                             self.config.encoder_padding)

    def _recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                   hotwords: str) -> list[Word]:
        self._load()
        # One window, no temperature fallback: a pass that goes wrong is simply not
        # agreed with by the next one, and a fallback would triple the pass's time. A
        # repetition loop is cut short by the token limit and left out.
        limit = int(len(audio) / SAMPLE_RATE * _TOKENS_PER_SECOND) + _TOKENS_EXTRA
        limit = min(limit, _CONTEXT - self._prompt_tokens(prompt, hotwords))
        segments, _info = self._model.transcribe(
            audio,
            language=self.config.language,
            task=self.config.task,
            beam_size=self.config.beam_size,
            temperature=0.0,
            word_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            hotwords=hotwords or None,
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200},
            max_new_tokens=max(limit, 1),
        )
        return [  # plain floats: faster-whisper's are numpy's, which JSON refuses
            Word(round(offset + float(w.start), 3), round(offset + float(w.end), 3), w.word,
                 round(float(w.probability), 4))
            for segment in segments if segment.compression_ratio <= _LOOP_RATIO
            for w in (segment.words or ())
        ]


    def _prompt_tokens(self, prompt: str, hotwords: str) -> int:
        """Tokens faster-whisper puts before the output (hotwords, prompt, start marks)."""
        encode = self._model.hf_tokenizer.encode
        used = 8  # start-of-previous, start-of-transcript, language, task, timestamps
        for text in (hotwords, prompt):
            if text:
                used += min(len(encode(" " + text.strip(), add_special_tokens=False).ids), _HALF)
        return used


@dataclass
class ScriptedRecognizer:
    """A fake: hears the words of a known script that lie within the window.

    A word cut by the window's end is heard as a guess (`unsure` and the pass's number,
    so two passes never agree on it), the way a real pass hears a word it has only half
    of. Records each pass's window, prompt and hotwords.
    """

    script: Sequence[Word]
    unsure: str = " euh"
    passes: list[tuple[float, float, str, str]] = field(default_factory=list)

    def recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                  hotwords: str) -> list[Word]:
        end = offset + len(audio) / SAMPLE_RATE
        self.passes.append((offset, end, prompt, hotwords))
        heard: list[Word] = []
        for word in self.script:
            if word.start >= offset and word.end <= end:
                heard.append(word)
            elif word.start >= offset and word.start < end:
                heard.append(Word(word.start, end, f"{self.unsure}{len(self.passes)}", 0.3))
                break
        return heard
