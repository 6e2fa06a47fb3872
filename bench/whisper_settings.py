"""Whisper settings by word error rate and speed together, on the same session spans.

    .venv/bin/python bench/whisper_settings.py --out bench/out

Generates (once) four short roundtables of French espeak-ng speech with the programme's
names spoken (``roundtables.four_roundtables``), then transcribes each session's span
(its speech, padded by 1 s) with:

- faster-whisper's default ``transcribe(audio, language="fr", hotwords=<names>)``: the
  reference that every setting must match or beat;
- the previous pipeline (``transcribe()`` with beam 1, VAD, word timestamps,
  ``condition_on_previous_text=False``, temperature fallback);
- ``WhisperTranscriber`` (ours: speech windows, one encoder pass for both tasks) with
  each setting tried.

French WER is counted over all four sessions (errors / words said). Times are wall
seconds with ``cpu_threads=2``; the translation's cost is the combined run minus the
French-only run. Every setting runs twice to check that it gives the same text twice.
Writes ``--out/whisper_settings.json`` and ``--out/whisper_settings.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay.domain.programme import parse_programme, programme_hotwords
from replay.media import commands
from replay.media.probe import probe
from replay.media.runner import run_ffmpeg
from replay.sample import SampleTruth
from replay.speech.models import resolve_model
from replay.speech.speechmap import read_wav_span
from replay.speech.transcriber import FALLBACK_TEMPERATURES, WhisperConfig, WhisperTranscriber
from roundtables import four_roundtables
from wer import wer_counts

THREADS = 2
PADDING = 1.0


@dataclass(frozen=True, slots=True)
class Span:
    title: str
    audio: np.ndarray
    said: str
    hotwords: str


@dataclass(frozen=True, slots=True)
class Row:
    setting: str
    french_wer: float
    french_s: float
    translate_s: float | None
    audio_s: float
    deterministic: bool
    transcripts: list[str]

    @property
    def translate_ratio(self) -> float | None:
        return None if self.translate_s is None else self.translate_s / self.french_s


def spans(out: Path) -> list[Span]:
    truth: SampleTruth = four_roundtables(out)
    wav = truth.recording.parent / "audio16k.wav"
    if not wav.is_file():
        info = asyncio.run(probe(truth.recording))
        asyncio.run(run_ffmpeg(commands.extract_audio_argv(truth.recording, info, wav,
                                                           threads=THREADS), timeout=600))
    event = parse_programme(truth.schedule.read_bytes(), filename=truth.schedule.name)
    by_guid = {s.guid: s for s in event.sessions}
    return [Span(s.title, read_wav_span(wav, s.speech_start - PADDING, s.speech_end + PADDING),
                 s.text, programme_hotwords(event, [by_guid[s.guid]]))
            for s in truth.sessions]


def _text(segments: Any) -> str:
    return " ".join(segment.text.strip() for segment in segments)


def _score(texts: Sequence[str], sessions: Sequence[Span]) -> float:
    counts = [wer_counts(s.said, text) for s, text in zip(sessions, texts, strict=True)]
    return sum(e for e, _ in counts) / sum(n for _, n in counts)


def _timed(work: Callable[[], list[str]]) -> tuple[list[str], float]:
    began = time.perf_counter()
    texts = work()
    return texts, time.perf_counter() - began


def library_row(name: str, model: Any, sessions: Sequence[Span], **options: Any) -> Row:
    def french() -> list[str]:
        return [_text(model.transcribe(s.audio, language="fr", hotwords=s.hotwords,
                                       **options)[0]) for s in sessions]

    def english() -> list[str]:
        return [_text(model.transcribe(s.audio, language="fr", task="translate",
                                       **options)[0]) for s in sessions]

    texts, french_s = _timed(french)
    again, _ = _timed(french)
    _, english_s = _timed(english)
    return Row(name, _score(texts, sessions), french_s, english_s, _audio(sessions),
               texts == again, texts)


def ours_row(name: str, config: WhisperConfig, sessions: Sequence[Span],
             french_only: bool = False) -> Row:
    ours = WhisperTranscriber(config)
    ours.transcribe(np.zeros(16000, dtype=np.float32), task="transcribe", language="fr")

    def french() -> list[str]:
        return [_text(ours.transcribe(s.audio, task="transcribe", language="fr",
                                      hotwords=s.hotwords)) for s in sessions]

    def both() -> list[str]:
        return [_text(ours.transcribe_and_translate(s.audio, language="fr",
                                                    hotwords=s.hotwords).spoken)
                for s in sessions]

    texts, french_s = _timed(french)
    if french_only:
        return Row(name, _score(texts, sessions), french_s, None, _audio(sessions), False,
                   texts)
    again, both_s = _timed(both)
    return Row(name, _score(texts, sessions), french_s, both_s - french_s, _audio(sessions),
               texts == again, texts)


def _audio(sessions: Sequence[Span]) -> float:
    return sum(len(s.audio) for s in sessions) / 16000


def settings(model_dir: str) -> list[tuple[str, WhisperConfig]]:
    def config(**changes: Any) -> WhisperConfig:
        return WhisperConfig(model_dir, model_dir, cpu_threads=THREADS, **changes)

    return [
        ("ours: beam 3, T=0, VAD 500 ms, repetition retries (chosen)", config()),
        ("ours: beam 5", config(beam_size=5)),
        ("ours: beam 1", config(beam_size=1)),
        ("ours: beam 3, previous window's text as prompt", config(previous_text_as_prompt=True)),
        ("ours: beam 3, no repetition retries", config(repetition_retries=False)),
        ("ours: beam 3, VAD 1000 ms", config(vad_min_silence_ms=1000)),
        ("ours: beam 3, temperature fallback", config(temperatures=FALLBACK_TEMPERATURES)),
    ]


def table(rows: Sequence[Row]) -> str:
    lines = ["| setting | French WER | French: s (× real time) | translation: s "
             "(÷ French) | same text twice |", "|---|---|---|---|---|"]
    for row in rows:
        translate = ("—" if row.translate_s is None or row.translate_ratio is None
                     else f"{row.translate_s:.1f} ({row.translate_ratio:.2f})")
        lines.append(f"| {row.setting} | {row.french_wer:.3f} | {row.french_s:.1f} "
                     f"({row.audio_s / row.french_s:.1f}×) | {translate} | "
                     f"{'yes' if row.deterministic else 'no'} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--only", help="run only the settings whose name contains this")
    parser.add_argument("--french-only", action="store_true",
                        help="French WER and time only (no translation, no second run)")
    args = parser.parse_args(argv)
    from faster_whisper import WhisperModel

    sessions = spans(args.out)
    model_dir = resolve_model("base", args.out / "models")
    default = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=THREADS)
    rows: list[Row] = []
    if not args.only:
        rows.append(library_row("faster-whisper default transcribe() + hotwords (reference)",
                                default, sessions))
        rows.append(library_row(
            "previous pipeline: beam 1, VAD, fallback, no previous text", default, sessions,
            beam_size=1, vad_filter=True, word_timestamps=True,
            vad_parameters={"min_silence_duration_ms": 1000, "speech_pad_ms": 200},
            condition_on_previous_text=False))
        print(table(rows), flush=True)
    for name, config in settings(model_dir):
        if args.only and args.only not in name:
            continue
        rows.append(ours_row(name, config, sessions, args.french_only))
        print(table(rows[-1:]), flush=True)
    result = {"audio_seconds": _audio(sessions), "load": os.getloadavg(),
              "rows": [asdict(row) | {"translate_ratio": row.translate_ratio} for row in rows],
              "said": [s.said for s in sessions]}
    name = "whisper_settings" + (f"-{args.only}" if args.only else "")
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    (args.out / f"{name}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    (args.out / f"{name}.md").write_text(table(rows) + "\n", encoding="utf-8")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
