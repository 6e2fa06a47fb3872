"""French speech where every word's time is known, for the live captions' tests and bench.

espeak-ng (its library, through ctypes) reports where each word begins in the audio it
synthesises; a word ends at its last loud 10 ms before the next word or the clause's end.
The sentences are laid one after the other with a pause, at 16 kHz mono.
"""

from __future__ import annotations

import ctypes
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replay.domain.transcript import Word
from replay.sample import PARAGRAPHS, VOICES

SAMPLE_RATE = 16000
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE = 1
_EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED = 1, 5, 6
_LOUD = 0.01
_FRAME = 0.01


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass(frozen=True, slots=True)
class TimedSpeech:
    """`samples`: float32 at 16 kHz; `words`: each word's text and true times (as
    espeak-ng splits them: « NetZeroCities » is three); `sentences`: the texts spoken."""

    samples: np.ndarray
    words: tuple[Word, ...]
    sentences: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def write_wav(self, path: Path) -> Path:
        pcm = (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(pcm.tobytes())
        return path


class _Espeak:
    """The espeak-ng library, initialised once; it is not thread-safe."""

    _instance: _Espeak | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libespeak-ng.so.1")
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
        if self.rate <= 0:
            raise RuntimeError("espeak-ng could not be initialised")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int, int, int]] = []
        self.callback = _Callback(self._collect)  # kept alive while the library holds it
        self.lib.espeak_SetSynthCallback(self.callback)

    @classmethod
    def get(cls) -> _Espeak:
        with cls._guard:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (count,)).astype(np.float32) / 32768)
        index = 0
        while events[index].type != 0:
            event = events[index]
            self.events.append((event.type, event.text_position, event.length, event.sample))
            index += 1
        return 0

    def speak(self, text: str, voice: str, words_per_minute: int) -> TimedSpeech:
        with self._guard:
            self.chunks, self.events = [], []
            self.lib.espeak_SetVoiceByName(voice.encode())
            self.lib.espeak_SetParameter(_ESPEAK_RATE, words_per_minute, 0)
            data = text.encode("utf-8")
            self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8,
                                  None, None)
            self.lib.espeak_Synchronize()
            chunks, events = self.chunks, self.events
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return _timed(text, audio, self.rate, events)


def _timed(text: str, audio: np.ndarray, rate: int,
           events: list[tuple[int, int, int, int]]) -> TimedSpeech:
    """Resample to 16 kHz and turn the word events into words with start and end."""
    positions = np.arange(0, len(audio), rate / SAMPLE_RATE)
    samples = np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
    marks = [(kind, pos, length, sample / rate) for kind, pos, length, sample in events
             if kind in (_EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED)]
    words = []
    for index, (kind, pos, length, start) in enumerate(marks):
        if kind != _EVENT_WORD:
            continue
        word = text[pos - 1 : pos - 1 + length].strip()
        if not any(char.isalnum() for char in word):
            continue
        limit = marks[index + 1][3] if index + 1 < len(marks) else len(samples) / SAMPLE_RATE
        end = float(_last_sound(samples, start, limit))
        words.append(Word(round(start, 3), round(max(end, start + _FRAME), 3), word))
    return TimedSpeech(samples, tuple(words))


def _last_sound(samples: np.ndarray, start: float, limit: float) -> float:
    """The end of the last loud 10 ms frame of [start, limit] (the word's end)."""
    first, last = round(start * SAMPLE_RATE), round(limit * SAMPLE_RATE)
    frame = round(_FRAME * SAMPLE_RATE)
    span = samples[first:last]
    frames = len(span) // frame
    if frames == 0:
        return limit
    loud = np.flatnonzero(np.abs(span[: frames * frame]).reshape(frames, frame).max(axis=1)
                          > _LOUD)
    return start + (loud[-1] + 1) * _FRAME if len(loud) else start + _FRAME


def speak_timed(sentences: Sequence[tuple[str, str]], *, pause: float = 0.7,
                lead: float = 1.0, words_per_minute: int = 150) -> TimedSpeech:
    """`sentences` as (voice, text), spoken in turn after `lead` seconds of silence, with
    `pause` seconds between them, and a last `pause` of silence."""
    espeak = _Espeak.get()
    parts = [np.zeros(round(lead * SAMPLE_RATE), dtype=np.float32)]
    words: list[Word] = []
    at = lead
    for voice, text in sentences:
        spoken = espeak.speak(text, voice, words_per_minute)
        words += [Word(round(w.start + at, 3), round(w.end + at, 3), w.text)
                  for w in spoken.words]
        parts += [spoken.samples, np.zeros(round(pause * SAMPLE_RATE), dtype=np.float32)]
        at += spoken.duration + round(pause * SAMPLE_RATE) / SAMPLE_RATE
    return TimedSpeech(np.concatenate(parts), tuple(words),
                       tuple(text for _voice, text in sentences))


def programme_speech(seconds: float, *, first: int = 0,
                     voices: Sequence[str] = VOICES) -> TimedSpeech:
    """About `seconds` of the sample programme's paragraphs, `voices` taking turns."""
    sentences: list[tuple[str, str]] = []
    estimate = 1.0
    index = first
    while estimate < seconds:
        text = PARAGRAPHS[index % len(PARAGRAPHS)]
        sentences.append((voices[index % len(voices)], text))
        estimate += len(text.split()) * 60 / 150 + 0.7
        index += 1
    return speak_timed(sentences)
