"""Live captions on the audio clock: the streaming policy and real Whisper passes, no real time.

The same passes as `LiveCaptioner` (same windows, prompts, trimming and commits) over
French speech whose word times are known (`programme_speech`), but the clock is the
audio's: each pass starts when a step of new audio has arrived and the previous pass is
over, and takes `--pass-seconds` (a quiet machine's pass time) whatever it really took.
The words, and so the WER, do not depend on the machine's load; the commit latency is
the one a machine whose passes take that long would give. Latency runs from the true end
of each spoken word the captions got right to the end of the pass that committed it.

`--timing` instead times passes over the same windows (6 to 22 s of speech) with the
encoder given the full 30 s and with `--encoder-padding`, interleaved, so that the two
can be compared in the same minutes on a loaded machine.

    .venv/bin/python bench/sim_live_captions.py --seconds 90 --offline
    .venv/bin/python bench/sim_live_captions.py --seconds 90 --encoder-padding 2 --pass-seconds 1.1
    .venv/bin/python bench/sim_live_captions.py --timing --encoder-padding 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench_live_captions import HOTWORDS, align, offline, percentiles, word_error_rate
from replay.domain.streaming import LocalAgreement, StreamingParams
from replay.domain.transcript import Word
from replay.live.captions import recognizer_for, streaming_params
from replay.sample_words import SAMPLE_RATE, TimedSpeech, programme_speech
from replay.settings import Settings, load_settings
from replay.speech.streaming import WhisperStreamingRecognizer


def variant_settings(args: argparse.Namespace) -> Settings:
    changes = {"live_caption_commit_after": args.commit_after, "live_caption_step": args.step,
               "live_caption_trim_after": args.trim_after,
               "live_caption_encoder_padding": args.encoder_padding}
    return load_settings(None, **{k: v for k, v in changes.items() if v is not None})


def simulate(speech: TimedSpeech, recognizer: WhisperStreamingRecognizer,
             params: StreamingParams, pass_seconds: float) -> dict[str, Any]:
    policy = LocalAgreement(params)
    duration = speech.duration
    buffer_start = now = seen = 0.0
    committed: list[tuple[Word, float, bool]] = []  # word, commit time, by agreement
    measured: list[float] = []
    while seen < duration:
        begin = max(now, min(duration, seen + params.step))  # new audio, last pass over
        seen = min(duration, begin)
        start = policy.window_start(buffer_start, seen)
        if start > buffer_start:
            buffer_start = start
            policy.forget_before(buffer_start)
        window = speech.samples[round(buffer_start * SAMPLE_RATE): round(seen * SAMPLE_RATE)]
        began = time.monotonic()
        heard = recognizer.recognise(window, offset=buffer_start, prompt=policy.prompt(),
                                     hotwords=HOTWORDS)
        measured.append(time.monotonic() - began)
        now = begin + (pass_seconds or measured[-1])
        deadline = seen - params.commit_after
        committed += [(w, now, w.end > deadline) for w in policy.insert(heard, seen)]
        cut = policy.trim_point(buffer_start, seen)
        if cut is not None:
            buffer_start += round((cut - buffer_start) * SAMPLE_RATE) / SAMPLE_RATE
            policy.forget_before(buffer_start)
    committed += [(w, now, False) for w in policy.flush()]
    words = [w for w, _, _ in committed]
    at = {id(w): t for w, t, _ in committed}
    latency = [at[id(heard)] - said.end for said, heard in align(speech.words, words)]
    return {"passes": len(measured), "measured_pass_seconds": round(statistics.mean(measured), 3),
            "words_committed": len(words),
            "committed_by_agreement": sum(1 for _, _, agreed in committed if agreed),
            "commit_latency": percentiles(latency),
            "live_text": "".join(w.text for w in words)}


def timing(speech: TimedSpeech, settings: Settings, rounds: int) -> dict[str, Any]:
    fitted = recognizer_for(settings)
    full = WhisperStreamingRecognizer(replace(fitted.config, encoder_padding=30.0))
    times: dict[str, list[float]] = {"full_30s": [], "fitted": []}
    texts: dict[str, list[str]] = {"full_30s": [], "fitted": []}
    for recognizer in (full, fitted):
        recognizer.load()
    for _ in range(rounds):
        for length in (6, 10, 14, 18, 22):
            start = 3.0 * length
            window = speech.samples[round(start * SAMPLE_RATE): round((start + length)
                                                                        * SAMPLE_RATE)]
            for name, recognizer in (("full_30s", full), ("fitted", fitted)):
                began = time.monotonic()
                words = recognizer.recognise(window, offset=0.0, prompt="", hotwords=HOTWORDS)
                times[name].append(time.monotonic() - began)
                texts[name].append("".join(w.text for w in words))
    return {name: {"mean_pass_seconds": round(statistics.mean(values), 3),
                   "texts": texts[name][:5]} for name, values in times.items()} | {
        "ratio_fitted_to_full": round(statistics.mean(times["fitted"])
                                      / statistics.mean(times["full_30s"]), 3)}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--pass-seconds", type=float, default=1.9,
                        help="audio-clock duration of a pass (0: as measured here)")
    parser.add_argument("--encoder-padding", type=float)
    parser.add_argument("--commit-after", type=float)
    parser.add_argument("--step", type=float)
    parser.add_argument("--trim-after", type=float)
    parser.add_argument("--offline", action="store_true", help="also the offline WER")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/out/sim"))
    parser.add_argument("--label", default="variant")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = variant_settings(args)
    speech = programme_speech(args.seconds)
    result: dict[str, Any] = {"command": " ".join(["bench/sim_live_captions.py", *argv]),
                              "speech_seconds": round(speech.duration, 1)}
    if args.timing:
        result["timing"] = timing(speech, settings, args.rounds)
    else:
        params = streaming_params(settings)
        result["params"] = str(params)
        result["encoder_padding"] = settings.live_caption_encoder_padding
        run = simulate(speech, recognizer_for(settings), params, args.pass_seconds)
        result |= run
        result["wer_live"] = round(word_error_rate(speech.text, run["live_text"]), 3)
        if args.offline:
            text, _seconds = offline(speech, settings, 2)
            result["wer_offline"] = round(word_error_rate(speech.text, text), 3)
    path = args.out / f"{args.label}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "live_text"},
                     ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
