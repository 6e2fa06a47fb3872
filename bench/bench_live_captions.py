"""Live captions: latency, accuracy and CPU share, on French speech whose word times are known.

The speech (espeak-ng, several voices, `replay.sample_words`) is fed in real time, 0.1 s at
a time, to the live captioner (`LiveCaptioner`, Whisper `base` on the CPU by default). A
video segment of 2 s "comes out" of the live ladder as each 2 s of audio has been fed;
the subtitle rendition writes through an object store that notes when each segment first
appears in the subtitle playlist and which cues it holds.

Measured:

- latency: for each spoken word that the live captions recognised, from the end of the
  word (in the audio fed) to the moment the playlist first lists a segment holding the cue
  that shows it; median and p95. Also the engine's part (word end to commit) and the
  playlist's lag behind the video (segment end to its subtitle segment listed);
- accuracy: WER of the live captions and of the offline transcription (the pipeline's
  `WhisperTranscriber`, same model and threads, whole audio at once) against the text
  spoken, and of the live captions against the offline transcription;
- CPU: seconds of CPU of this process (the captioner) and, with --ladder, of the live
  ladder's ffmpeg, per second of wall time, while the live runs.

With --ladder, a stand-in for the live ladder runs beside the captions: ffmpeg at `-re`
on a 1080p25 6 Mb/s H.264 source (generated once into --out), passing 1080p through
and encoding 720p, 480p and 360p (veryfast) and AAC into 2 s HLS segments. With
--english, English captions (the translate task) run beside the French ones.

Run from the repository root (see bench/README.md), for instance:

    .venv/bin/python bench/bench_live_captions.py --seconds 120 --out bench/out
    .venv/bin/python bench/bench_live_captions.py --seconds 1800 --ladder --out bench/out
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replay.domain.livecues import LiveSegment, parse_media_playlist
from replay.domain.transcript import Word
from replay.domain.webvtt import parse_webvtt
from replay.live.captions import LiveCaptioner, fan_out, recognizer_for, streaming_params
from replay.live.subtitles import RenditionConfig, SubtitleRendition
from replay.sample_words import SAMPLE_RATE, TimedSpeech, programme_speech
from replay.settings import Settings, load_settings
from replay.speech.models import resolve_model
from replay.speech.streaming import WhisperStreamingRecognizer
from replay.speech.transcriber import Task, WhisperConfig, WhisperTranscriber
from replay.storage.memory import MemoryStore

SEGMENT = 2.0
CHUNK = 0.1
HOTWORDS = "Mission Villes, NetZeroCities, CapaCITIES, Commission européenne"


# --- accuracy -----------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFC", text).casefold().replace("’", "'")
    return re.sub(r"[^\w]+", " ", folded).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = tokens(reference), tokens(hypothesis)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           diagonal + (ref[i - 1] != hyp[j - 1]))
    return row[len(hyp)] / max(1, len(ref))


# --- the store that watches the playlist --------------------------------------------------


@dataclass
class Listed:
    """When each subtitle segment was first listed, and its cues."""

    at: dict[int, float] = field(default_factory=dict)
    cues: dict[int, list[tuple[float, float, str]]] = field(default_factory=dict)


class WatchedStore(MemoryStore):
    def __init__(self, playlist: str, listed: Listed) -> None:
        super().__init__()
        self.playlist = playlist
        self.listed = listed
        self._written: dict[str, bytes] = {}

    async def put_bytes(self, key: str, data: bytes) -> None:
        await super().put_bytes(key, data)
        if key.endswith(".vtt"):
            self._written[key.rsplit("/", 1)[-1]] = data
        elif key.endswith(self.playlist):
            now = time.monotonic()
            first, entries = parse_media_playlist(data.decode())
            for index, entry in enumerate(entries):
                sequence = first + index
                if sequence not in self.listed.at:
                    self.listed.at[sequence] = now
                    cues = parse_webvtt(self._written[entry.uri].decode())
                    self.listed.cues[sequence] = [(c.start, c.end, c.text) for c in cues]


# --- the live ladder stand-in ---------------------------------------------------------------------


def make_ladder_source(out: Path) -> Path:
    source = out / "ladder-source-1080p25.mp4"
    if not source.is_file():
        print("generating the 1080p25 6 Mb/s source (once)...", flush=True)
        subprocess.run([
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=60",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-maxrate", "6M",
            "-bufsize", "12M", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-b:a", "128k", str(source),
        ], check=True)  # fmt: skip
    return source


def ladder_argv(source: Path, seconds: float, out: Path) -> list[str]:
    rungs = [(720, 3000), (480, 1200), (360, 700)]
    graph = f"[0:v]split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs)))
    graph += "".join(f";[s{i}]scale=-2:{h}[v{i}]" for i, (h, _) in enumerate(rungs))
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-re",
            "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds:g}",
            "-filter_complex", graph, "-map", "0:v"]
    argv += [arg for i in range(len(rungs)) for arg in ("-map", f"[v{i}]")]
    argv += ["-map", "0:a", "-c:v:0", "copy"]
    for i, (_, kbps) in enumerate(rungs, start=1):
        argv += [f"-c:v:{i}", "libx264", f"-b:v:{i}", f"{kbps}k", f"-preset:v:{i}", "veryfast",
                 f"-force_key_frames:v:{i}", "source"]
    stream_map = " ".join(f"v:{i},agroup:aud" for i in range(len(rungs) + 1))
    argv += ["-c:a", "aac", "-b:a", "128k", "-f", "hls", "-hls_time", f"{SEGMENT:g}",
             "-hls_list_size", "6", "-hls_flags", "delete_segments+independent_segments",
             "-var_stream_map", f"{stream_map} a:0,agroup:aud",
             "-hls_segment_filename", str(out / "%v-%d.ts"), str(out / "%v.m3u8")]
    return argv


# --- the live run -------------------------------------------------------------------------


@dataclass
class Track:
    """One language's captioner and what it produced."""

    name: str
    recognizer: WhisperStreamingRecognizer
    captioner: LiveCaptioner
    rendition: SubtitleRendition
    listed: Listed
    committed: list[tuple[Word, float]] = field(default_factory=list)  # word, wall time


async def realtime_pcm(speech: TimedSpeech, t0: float) -> AsyncIterator[bytes]:
    pcm = (np.clip(speech.samples, -1, 1) * 32767).astype("<i2").tobytes()
    step = round(CHUNK * SAMPLE_RATE) * 2
    for index, offset in enumerate(range(0, len(pcm), step)):
        await asyncio.sleep(max(0.0, t0 + index * CHUNK - time.monotonic()))
        yield pcm[offset : offset + step]


async def video_segments(renditions: Sequence[SubtitleRendition], duration: float,
                         t0: float) -> None:
    """A 2 s video segment is out each time 2 s more of audio has been fed."""
    for sequence in range(math.ceil(duration / SEGMENT)):
        start = sequence * SEGMENT
        length = min(SEGMENT, duration - start)
        await asyncio.sleep(max(0.0, t0 + start + length - time.monotonic()))
        for rendition in renditions:
            await rendition.add_segment(LiveSegment(sequence, 0, start, length))


async def run_track(track: Track, pcm: AsyncIterator[bytes]) -> None:
    take = track.rendition.begin_take(0, mpegts_origin=126_000)

    async def sink(words: Sequence[Word]) -> None:
        now = time.monotonic()
        track.committed += [(word, now) for word in words]
        await take.add_words(words)

    await track.captioner.run(pcm, sink, take.settle)
    await take.finish()


def new_track(name: str, settings: Settings, task: Task) -> Track:
    listed = Listed()
    store = WatchedStore("day.m3u8", listed)
    rendition = SubtitleRendition(store, RenditionConfig(
        prefix=f"live/{name}", language="fr" if task == "transcribe" else "en",
        max_lag=settings.live_caption_max_lag))
    recognizer = recognizer_for(settings, task)
    captioner = LiveCaptioner(recognizer, hotwords=HOTWORDS, params=streaming_params(settings))
    return Track(name, recognizer, captioner, rendition, listed)


async def live(speech: TimedSpeech, tracks: list[Track],
               ladder: list[str] | None) -> dict[str, Any]:
    for track in tracks:  # load the models before the clock starts
        await asyncio.to_thread(track.recognizer.load)
    ladder_proc = None
    if ladder is not None:
        ladder_proc = await asyncio.create_subprocess_exec(*ladder,
                                                           stdin=asyncio.subprocess.DEVNULL)
    ladder_started = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = time.monotonic()
    t0 = time.monotonic() + 0.5
    pcms = await fan_out(realtime_pcm(speech, t0), len(tracks))
    await asyncio.gather(
        video_segments([t.rendition for t in tracks], speech.duration, t0),
        *(run_track(track, pcm) for track, pcm in zip(tracks, pcms, strict=True)))
    for track in tracks:
        await track.rendition.end()
    wall = time.monotonic() - wall_before
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    result: dict[str, Any] = {
        "t0": t0, "wall_seconds": round(wall, 1),
        "captioner_cpu_per_second": round((cpu_after.ru_utime + cpu_after.ru_stime
                                           - cpu_before.ru_utime - cpu_before.ru_stime)
                                          / wall, 3)}
    if ladder_proc is not None:
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        await ladder_proc.wait()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["ladder_cpu_per_second"] = round(
            (children.ru_utime + children.ru_stime - children_before.ru_utime
             - children_before.ru_stime) / wall, 3)
        result["ladder_waited_after_live_seconds"] = round(time.monotonic() - started, 1)
        result["ladder_speed"] = round((speech.duration + 1) / (time.monotonic()
                                                                 - ladder_started), 3)
        result["ladder_exit"] = ladder_proc.returncode
    return result


# --- latency ------------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "median": None, "p95": None, "max": None}
    return {"count": len(values), "median": round(statistics.median(values), 2),
            "p95": round(float(np.percentile(values, 95)), 2), "max": round(max(values), 2)}


def align(truth: Sequence[Word], live: Sequence[Word],
          within: float = 3.0) -> list[tuple[Word, Word]]:
    """Pairs of (spoken word, live word) that the live captions got right: the same word
    (case and punctuation aside) starting within `within` seconds, each spoken word used
    once. By time, not by sequence alignment: the sample text repeats after a minute."""
    free: dict[str, list[int]] = {}
    for index, word in enumerate(truth):
        free.setdefault(" ".join(tokens(word.text)), []).append(index)
    pairs = []
    for heard in live:
        candidates = free.get(" ".join(tokens(heard.text)), [])
        near = [i for i in candidates if abs(truth[i].start - heard.start) <= within]
        if near:
            best = min(near, key=lambda i: abs(truth[i].start - heard.start))
            candidates.remove(best)
            pairs.append((truth[best], heard))
    return pairs


def shown_at(word: Word, listed: Listed) -> float | None:
    """When the playlist first listed a segment holding a cue that shows `word`."""
    wanted = tokens(word.text)
    times = [listed.at[sequence] for sequence, cues in listed.cues.items()
             if any(start - 0.01 <= word.start <= end and set(wanted) <= set(tokens(text))
                    for start, end, text in cues)]
    return min(times) if times else None


def latency(speech: TimedSpeech, track: Track, t0: float, *,
            spoken_times: bool) -> dict[str, Any]:
    """The track's latencies. With `spoken_times` (French), from the true end of each
    spoken word the captions got right; otherwise (English: a translation has no spoken
    word to match) from each caption word's own end on the take's clock."""
    live_words = [word for word, _ in track.committed]
    committed_at = {id(word): at for word, at in track.committed}
    pairs = (align(speech.words, live_words) if spoken_times
             else [(word, word) for word in live_words])
    caption, engine, missing = [], [], 0
    for said, heard in pairs:
        spoken_end = t0 + said.end
        engine.append(committed_at[id(heard)] - spoken_end)
        shown = shown_at(heard, track.listed)
        if shown is None:
            missing += 1
        else:
            caption.append(shown - spoken_end)
    lag = [at - (t0 + (sequence + 1) * SEGMENT) for sequence, at in track.listed.at.items()]
    return {"latency_from": "spoken word's end" if spoken_times else "caption word's end",
            "words_spoken": len(speech.words), "words_committed": len(live_words),
            "words_measured": len(pairs), "measured_but_not_in_playlist": missing,
            "caption_latency": percentiles(caption), "commit_latency": percentiles(engine),
            "playlist_lag_behind_video": percentiles(lag),
            "late_segments": track.rendition.late_segments,
            "passes": track.captioner.passes,
            "mean_pass_seconds": round(track.captioner.pass_seconds
                                       / max(1, track.captioner.passes), 3),
            "dropped_audio_seconds": round(track.captioner.dropped_seconds, 1),
            "cues": len({cue for cues in track.listed.cues.values() for cue in cues})}


def live_sync_duration(lag_p95: float | None) -> float | None:
    """hls.js liveSyncDuration such that a segment's captions are listed (p95) and loaded
    (one playlist reload, about a target duration) before the player reaches it."""
    if lag_p95 is None:
        return None
    return math.ceil(lag_p95 + SEGMENT + SEGMENT + 1.0)


# --- main ---------------------------------------------------------------------------------


def offline(speech: TimedSpeech, settings: Settings, threads: int) -> tuple[str, float]:
    model = resolve_model(settings.live_caption_model, settings.model_cache_dir)
    transcriber = WhisperTranscriber(WhisperConfig(model, model, cpu_threads=threads))
    began = time.monotonic()
    segments = transcriber.transcribe(speech.samples, task="transcribe", language="fr",
                                      hotwords=HOTWORDS)
    return " ".join(s.text for s in segments), time.monotonic() - began


def machine() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_average": os.getloadavg()}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="seconds of speech to caption live (default 120)")
    parser.add_argument("--ladder", action="store_true",
                        help="run the live ladder stand-in beside the captions")
    parser.add_argument("--english", action="store_true",
                        help="caption in English too (translate task), beside the French")
    parser.add_argument("--config", type=Path, help="a replay.toml with live_caption_* settings")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    return parser.parse_args(argv)


async def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = load_settings(args.config)
    print(f"machine: {machine()}", flush=True)
    speech = await asyncio.to_thread(programme_speech, args.seconds)
    print(f"speech: {speech.duration:.0f} s, {len(speech.words)} words", flush=True)
    offline_text, offline_seconds = await asyncio.to_thread(offline, speech, settings, 2)
    print(f"offline transcription: {offline_seconds:.0f} s", flush=True)
    tracks = [new_track("fr", settings, "transcribe")]
    if args.english:
        tracks.append(new_track("en", settings, "translate"))
    ladder = None
    if args.ladder:
        (args.out / "ladder").mkdir(exist_ok=True)
        ladder = ladder_argv(make_ladder_source(args.out), speech.duration + 1,
                             args.out / "ladder")
    load_before = os.getloadavg()
    run = await live(speech, tracks, ladder)
    french = tracks[0]
    live_text = "".join(word.text for word, _ in french.committed)
    results: dict[str, Any] = {
        "command": " ".join(["bench/bench_live_captions.py", *argv]),
        "machine": machine(), "load_average_before": load_before,
        "settings": {k: v for k, v in asdict(settings).items() if k.startswith("live_")}
        | {"model_resolved": french.recognizer.config.model},
        "speech_seconds": round(speech.duration, 1), "run": run,
        "wer": {"offline_vs_spoken": round(word_error_rate(speech.text, offline_text), 3),
                "live_vs_spoken": round(word_error_rate(speech.text, live_text), 3),
                "live_vs_offline": round(word_error_rate(offline_text, live_text), 3)},
        "offline_seconds": round(offline_seconds, 1),
        "tracks": {track.name: latency(speech, track, run["t0"], spoken_times=track.name == "fr")
                   for track in tracks},
    }
    results["wer"]["live_minus_offline"] = round(results["wer"]["live_vs_spoken"]
                                                 - results["wer"]["offline_vs_spoken"], 3)
    lag = results["tracks"]["fr"]["playlist_lag_behind_video"]["p95"]
    results["recommended_live_sync_duration"] = live_sync_duration(lag)
    results["texts"] = {"spoken": speech.text, "offline": offline_text, "live": live_text}
    results["committed"] = {track.name: [[w.start, w.end, w.text, round(at - run["t0"], 2)]
                                         for w, at in track.committed] for track in tracks}
    path = args.out / "live_captions.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    summary = {k: v for k, v in results.items() if k not in {"texts", "committed"}}
    print(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    print(f"written: {path}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
