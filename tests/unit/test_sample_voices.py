"""The sample's voices: sessions and the timed programme speech take the voices asked for,
in turn (the live captions tests ask for the one Whisper `base` hears best)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from replay import sample, sample_words
from replay.sample import CLEAR_VOICES, VOICES, SampleSession
from replay.sample_words import TimedSpeech


@pytest.fixture
def spoken_in(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    voices: list[str] = []

    def speak(text: str, voice: str, wav: Path) -> np.ndarray:
        voices.append(voice)
        return np.ones(sample.SAMPLE_RATE, dtype=np.float32)

    monkeypatch.setattr(sample, "_speak", speak)
    return voices


@pytest.mark.parametrize(("voices", "expected"), [
    (VOICES, ["fr+m3", "fr+f2", "fr+m7", "fr"]),
    (CLEAR_VOICES, ["fr+f2"] * 4),
    (("fr", "fr+m3"), ["fr+m3", "fr", "fr+m3", "fr"]),
])
def test_a_session_speaks_its_paragraphs_in_its_voices_in_turn(
        spoken_in: list[str], tmp_path: Path, voices: tuple[str, ...],
        expected: list[str]) -> None:
    session = SampleSession("Séance", 0, 60, paragraphs=4, voices=voices)
    timeline = np.zeros(60 * sample.SAMPLE_RATE, dtype=np.float32)
    sample._lay_speech(timeline, 1.0, 1, session, tmp_path)
    assert spoken_in == expected


def test_the_timed_programme_speech_takes_the_voices_asked_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[Sequence[tuple[str, str]]] = []

    def speak_timed(sentences: Sequence[tuple[str, str]]) -> TimedSpeech:
        said.append(sentences)
        return TimedSpeech(np.zeros(1, dtype=np.float32), (), ())

    monkeypatch.setattr(sample_words, "speak_timed", speak_timed)
    sample_words.programme_speech(20.0)
    sample_words.programme_speech(20.0, voices=CLEAR_VOICES)
    default, clear = ([voice for voice, _ in sentences] for sentences in said)
    assert len(default) >= 3
    assert default == list(VOICES[: len(default)])
    assert clear == ["fr+f2"] * len(default)
