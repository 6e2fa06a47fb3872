"""Real Whisper (the offline base model) on French speech generated with espeak-ng."""

from __future__ import annotations

import os
import subprocess
import threading
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from replay.domain.cutplan import Interval
from replay.speech.models import resolve_model
from replay.speech.speechmap import detect_speech, read_wav_span
from replay.speech.streaming import LiveWhisperConfig, WhisperStreamingRecognizer
from replay.speech.transcriber import WhisperConfig, WhisperTranscriber

pytestmark = pytest.mark.slow

SENTENCES = (
    ("fr+m3", "Bonjour à toutes et à tous, et bienvenue à cette table ronde de la Mission Villes."),
    ("fr+f2", "La rénovation des bâtiments publics est une priorité pour la métropole."),
    ("fr", "La mobilité douce et les transports en commun réduisent les émissions."),
)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three voices, two seconds of silence before and between them, as 16 kHz mono."""
    folder = tmp_path_factory.mktemp("speech")
    parts = []
    for index, (voice, text) in enumerate(SENTENCES):
        wav = folder / f"{index}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text],
                       check=True, timeout=60)
        parts.append(wav)
    inputs = [arg for wav in parts for arg in ("-i", str(wav))]
    graph = "".join(f"[{i}:a]adelay=2000,aresample=16000[a{i}];" for i in range(len(parts)))
    graph += "".join(f"[a{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1"
    out = folder / "speech16k.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph,
                    "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)],
                   check=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    model = resolve_model("base", tmp_path_factory.mktemp("models"))
    assert Path(model, "model.bin").is_file(), "the offline base model is not installed"
    return model


@pytest.fixture(scope="module")
def transcriber(model_dir: str) -> WhisperTranscriber:
    return WhisperTranscriber(WhisperConfig(model_dir, model_dir, cpu_threads=2))


def test_speech_map_finds_the_three_sentences(speech_wav: Path) -> None:
    speech = detect_speech(speech_wav)
    gaps = [b.start - a.end for a, b in pairwise(speech)]
    assert sum(gap > 1.5 for gap in gaps) == 2, speech
    assert 1.5 < speech[0].start < 2.5
    assert all(isinstance(part, Interval) for part in speech)


def test_french_transcription_recognises_expected_words(
    speech_wav: Path, transcriber: WhisperTranscriber
) -> None:
    fractions: list[float] = []
    segments = transcriber.transcribe(read_wav_span(speech_wav), task="transcribe",
                                      language="fr", hotwords="Mission Villes, NetZeroCities",
                                      on_progress=fractions.append)
    text = " ".join(s.text for s in segments).casefold()
    # espeak-ng's voices are hard for the small model: expect most words, not exact text.
    expected = ["bonjour", "toutes", "tous", "mission villes", "rénovation", "public",
                "priorité", "métropole", "mobilité", "transports", "commun", "émissions"]
    found = [word for word in expected if word in text]
    assert len(found) >= 5, (found, text)
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    words = [w for s in segments for w in s.words]
    assert words
    assert all(0 <= w.probability <= 1 and w.start <= w.end for w in words)


def test_translate_task_produces_english(
    speech_wav: Path, transcriber: WhisperTranscriber
) -> None:
    segments = transcriber.transcribe(read_wav_span(speech_wav), task="translate",
                                      language="fr")
    text = " ".join(s.text for s in segments).casefold()
    assert sum(word in text.split() for word in ("the", "and", "of", "is", "to", "a")) >= 2, text
    assert "bonjour" not in text


def test_silence_gives_no_segments(transcriber: WhisperTranscriber) -> None:
    silence = np.zeros(16000 * 5, dtype=np.float32)
    assert transcriber.transcribe(silence, task="transcribe", language="fr") == []


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the Whisper encoder's runs (each call encodes one 30-second window)."""
    from faster_whisper import WhisperModel

    calls: list[int] = []
    encode = WhisperModel.encode

    def counting(self: Any, features: np.ndarray) -> Any:
        calls.append(features.shape[-1])
        return encode(self, features)

    monkeypatch.setattr(WhisperModel, "encode", counting)
    return calls


def test_transcription_and_translation_share_the_encoder(
    speech_wav: Path, transcriber: WhisperTranscriber, encoder_calls: list[int]
) -> None:
    audio = read_wav_span(speech_wav)
    separately = [transcriber.transcribe(audio, task=task, language="fr")
                  for task in ("transcribe", "translate")]
    alone = len(encoder_calls)
    encoder_calls.clear()

    both = transcriber.transcribe_and_translate(audio, language="fr")

    assert alone >= 2
    assert len(encoder_calls) == alone // 2
    assert both.spoken == separately[0]
    assert both.english == separately[1]


def test_the_same_audio_gives_the_same_text(
    speech_wav: Path, transcriber: WhisperTranscriber
) -> None:
    audio = read_wav_span(speech_wav)
    runs = [transcriber.transcribe_and_translate(audio, language="fr", hotwords="Mission Villes")
            for _ in range(2)]

    assert runs[0] == runs[1]
    assert runs[0].spoken


def test_a_separate_translation_model_encodes_the_window_itself(
    speech_wav: Path, transcriber: WhisperTranscriber, encoder_calls: list[int],
    model_dir: str,
) -> None:
    """large-v3-turbo cannot translate: with another model for English, each model runs
    its own encoder (here the same files under a second name, loaded twice)."""
    two_models = WhisperTranscriber(WhisperConfig(model_dir, f"{model_dir}/", cpu_threads=2))
    audio = read_wav_span(speech_wav)
    shared = transcriber.transcribe_and_translate(audio, language="fr")
    once = len(encoder_calls)
    encoder_calls.clear()

    separate = two_models.transcribe_and_translate(audio, language="fr")

    assert len(encoder_calls) == 2 * once
    assert separate == shared


# --- the live pass ---------------------------------------------------------------------


def live_recognizer(model_dir: str, padding: float) -> WhisperStreamingRecognizer:
    return WhisperStreamingRecognizer(LiveWhisperConfig(model_dir, cpu_threads=2,
                                                        encoder_padding=padding))


def test_a_live_pass_given_30_s_is_faster_whispers_own_transcription(
    speech_wav: Path, model_dir: str, encoder_calls: list[int]
) -> None:
    """With the full 30 s the encoder is not fitted: the pass gives exactly transcribe()'s
    words, as before encoder_padding existed."""
    from faster_whisper import WhisperModel

    audio = read_wav_span(speech_wav)[: 16000 * 10]
    heard = live_recognizer(model_dir, 30.0).recognise(audio, offset=5.0, prompt="",
                                                       hotwords="Mission Villes")
    assert encoder_calls == [3000]
    model = WhisperModel(model_dir, compute_type="int8", cpu_threads=2)
    segments, _info = model.transcribe(
        audio, language="fr", beam_size=1, temperature=0.0, word_timestamps=True,
        condition_on_previous_text=False, hotwords="Mission Villes", vad_filter=True,
        vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200},
        max_new_tokens=10 * 6 + 16)
    expected = [(round(5.0 + w.start, 3), round(5.0 + w.end, 3), w.word)
                for segment in segments for w in segment.words]
    assert [(w.start, w.end, w.text) for w in heard] == expected
    assert expected


def test_a_live_pass_encodes_its_speech_and_the_padding_only(
    speech_wav: Path, model_dir: str, encoder_calls: list[int]
) -> None:
    audio = read_wav_span(speech_wav)
    heard = live_recognizer(model_dir, 2.0).recognise(audio, offset=0.0, prompt="",
                                                      hotwords="Mission Villes")
    # VAD keeps the three sentences (about 13 s) and leaves most of the silences out; a
    # second window (the tail after the last complete segment), if any, is short too.
    assert 500 + 200 < encoder_calls[0] < min(3000, len(audio) / 160 + 200)
    assert all(frames < 3000 for frames in encoder_calls)
    text = "".join(w.text for w in heard).casefold()
    expected = ["bonjour", "toutes", "tous", "mission villes", "rénovation", "public",
                "priorité", "métropole", "mobilité", "transports", "commun", "émissions"]
    found = [word for word in expected if word in text]
    assert len(found) >= 5, (found, text)
    assert all(0 <= w.start <= w.end <= len(audio) / 16000 + 0.5 for w in heard)
    assert [w.start for w in heard] == sorted(w.start for w in heard)


def test_a_silent_live_window_runs_no_encoder(model_dir: str, encoder_calls: list[int]) -> None:
    silence = np.zeros(16000 * 5, dtype=np.float32)
    assert live_recognizer(model_dir, 2.0).recognise(silence, offset=0.0, prompt="",
                                                     hotwords="") == []
    assert encoder_calls == []


def threads_niceness() -> dict[int, int]:
    """Every thread of this process and its nice value."""
    return {int(task.name): int((task / "stat").read_text().rpartition(") ")[2].split()[16])
            for task in Path("/proc/self/task").iterdir()}


def test_the_live_model_loads_and_runs_in_threads_that_yield_the_cpu(
    speech_wav: Path, model_dir: str
) -> None:
    """The recogniser's thread and CTranslate2's, started by it, are niced; the caller is
    not (the ladder's ffmpeg and the event loop keep their priority)."""
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = threads_niceness()
    recognizer = WhisperStreamingRecognizer(LiveWhisperConfig(model_dir, niceness=7))
    try:
        heard = recognizer.recognise(read_wav_span(speech_wav), offset=0.0, prompt="",
                                     hotwords="")
        started = {tid: v for tid, v in threads_niceness().items() if tid not in before}
    finally:
        recognizer.close()
    assert heard
    assert len(started) >= 2  # the recogniser's own thread and CTranslate2's worker
    assert set(started.values()) == {min(19, own + 7)}, started
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
