"""Time each stage of the pipeline beside a baseline run the obvious way.

    python bench/bench_pipeline.py --runs 3 --span 60 --out bench/out

Generates (once, cached in ``--out/sample``) a 10-minute 1080p25 recording with French
speech, then, ``--runs`` times, times every stage for our pipeline and for its baseline,
interleaved (ours, baseline, ours, baseline...) so background load hits both alike.
Rates are seconds of audio or video processed per wall-clock second. Every run's timings
go to ``--out/results.json``; a Markdown table (median, min, max) is printed.

Never run by the test suite (it lives outside ``tests/`` and takes many minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay.domain.cutplan import CutRules, Interval, plan_cuts
from replay.domain.ladder import Rung, choose_ladder
from replay.domain.programme import parse_programme, programme_hotwords
from replay.jobs.context import Lanes
from replay.media import commands
from replay.media.probe import MediaInfo, probe
from replay.media.runner import run_ffmpeg
from replay.sample import SampleTruth
from replay.speech.models import resolve_model
from replay.speech.speechmap import detect_speech, read_wav_span
from replay.speech.transcriber import Task, WhisperConfig, WhisperTranscriber
from sample10 import sample

CORES = 2
TIMEOUT = 3600.0
SEGMENT_SECONDS = 6.0


@dataclass(frozen=True, slots=True)
class Timing:
    run: int
    stage: str
    impl: str  # "ours" or "baseline"
    media_seconds: float
    wall_s: float
    cpu_s: float
    load_before: float
    load_after: float

    @property
    def rate(self) -> float:
        return self.media_seconds / self.wall_s


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    unit: str  # "audio" or "video"
    ours: Callable[[], None] | None
    baseline: Callable[[], None] | None
    media_seconds: float


def _cpu_now() -> float:
    """CPU seconds of this process (all threads) and its reaped children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(run: int, stage: str, impl: str, seconds: float, work: Callable[[], None]) -> Timing:
    load_before = os.getloadavg()[0]
    cpu = _cpu_now()
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    timing = Timing(run, stage, impl, seconds, wall, _cpu_now() - cpu, load_before,
                    os.getloadavg()[0])
    print(f"  run {run} {impl:8} {stage}: {wall:7.2f} s wall, {timing.cpu_s:7.2f} s CPU, "
          f"{timing.rate:6.2f}x, load {load_before:.2f}->{timing.load_after:.2f}", flush=True)
    return timing


# -- media ------------------------------------------------------------------------------


def run_ours(argv: Sequence[str], expected: float) -> None:
    asyncio.run(run_ffmpeg(argv, expected_duration=expected, timeout=TIMEOUT))


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def ours_ladder(src: Path, info: MediaInfo, rungs: list[Rung], start: float, span: float,
                out: Path, threads: int) -> Callable[[], None]:
    def work() -> None:
        hls = fresh(out) / "hls"
        run_ours(commands.ladder_argv(src, info, start=start, duration=span, rungs=rungs,
                                      out_dir=hls, segment_seconds=SEGMENT_SECONDS,
                                      threads=threads), span)
    return work


def baseline_rung_argv(src: Path, rung: Rung, start: float, span: float, fps: float,
                       out: Path) -> list[str]:
    """One rendition, the obvious way: its own ffmpeg, its own decode, default threading.

    Same encoder settings as that rung in ``ladder_argv`` (x264 veryfast, bitrates,
    profile, aligned keyframes, AAC), same HLS output.
    """
    gop = str(round(SEGMENT_SECONDS * fps))
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-y", "-loglevel", "warning",
            "-ss", f"{start:.3f}", "-t", f"{span:.3f}", "-i", str(src)]
    if rung.is_audio_only:
        argv += ["-map", "0:a:0", "-vn"]
    else:
        argv += [
            "-map", "0:v:0", "-map", "0:a:0",
            "-vf", f"scale={rung.width}:{rung.height}:flags=bicubic,setsar=1",
            "-c:v", "libx264", "-preset", "veryfast",
            "-profile:v", "high" if min(rung.width, rung.height) > 480 else "main",
            "-b:v", f"{rung.video_kbps}k", "-maxrate", f"{rung.video_kbps * 11 // 10}k",
            "-bufsize", f"{rung.video_kbps * 2}k",
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS:g})",
        ]  # fmt: skip
    argv += ["-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", f"{rung.audio_kbps}k",
             "-f", "hls", "-hls_time", f"{SEGMENT_SECONDS:g}", "-hls_playlist_type", "vod",
             "-hls_segment_filename", str(out / rung.name / "seg_%05d.ts"),
             str(out / rung.name / "index.m3u8")]
    return argv


def baseline_ladder(src: Path, info: MediaInfo, rungs: list[Rung], start: float, span: float,
                    out: Path) -> Callable[[], None]:
    def work() -> None:
        hls = fresh(out) / "hls"
        for rung in rungs:
            (hls / rung.name).mkdir(parents=True)
            subprocess.run(baseline_rung_argv(src, rung, start, span, info.fps, hls),
                           check=True, stdin=subprocess.DEVNULL)
    return work


# -- speech -----------------------------------------------------------------------------


def ours_whisper(transcriber: WhisperTranscriber, audio: np.ndarray, task: Task,
                 hotwords: str | None) -> Callable[[], None]:
    def work() -> None:
        transcriber.transcribe(audio, task=task, language="fr",
                               hotwords=hotwords if task == "transcribe" else None)
    return work


def baseline_whisper(model: Any, audio: np.ndarray, task: Task) -> Callable[[], None]:
    def work() -> None:
        segments, _info = model.transcribe(audio, language="fr", task=task)
        for _segment in segments:
            pass
    return work


def side_by_side(src: Path, info: MediaInfo, rungs: list[Rung], start: float, span: float,
                 out: Path, transcriber: WhisperTranscriber, audio: np.ndarray,
                 hotwords: str | None) -> Callable[[], None]:
    """One session as the pipeline runs it on 2 cores: the media lane (ladder, 1 thread)
    beside the speech lane (transcribe then translate, 1 thread each), both to the end."""
    lanes = Lanes.for_threads(CORES)

    async def both() -> None:
        hls = fresh(out) / "hls"
        ladder = run_ffmpeg(commands.ladder_argv(
            src, info, start=start, duration=span, rungs=rungs, out_dir=hls,
            segment_seconds=SEGMENT_SECONDS, threads=lanes.media_threads),
            expected_duration=span, timeout=TIMEOUT)

        def speech() -> None:
            for task in ("transcribe", "translate"):
                ours_whisper(transcriber, audio, task, hotwords)()

        await asyncio.gather(ladder, asyncio.to_thread(speech))

    def work() -> None:
        asyncio.run(both())
    return work


# -- the benchmark ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def out(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    import ctranslate2
    import faster_whisper

    return {
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "lscpu": out("lscpu"),
        "memory": out("free", "-h"),
        "ffmpeg": out("ffmpeg", "-version").splitlines()[0],
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
        "uptime": out("uptime").strip(),
    }


@dataclass(frozen=True, slots=True)
class Prepared:
    truth: SampleTruth
    info: MediaInfo
    wav: Path
    speech: list[Interval]
    publishable: float
    cuts: list[dict[str, Any]]


def prepare(out: Path) -> Prepared:
    truth = sample(out)
    info = asyncio.run(probe(truth.recording))
    wav = out / "audio16k.wav"
    if not wav.is_file():
        run_ours(commands.extract_audio_argv(truth.recording, info, wav, threads=CORES),
                 info.duration)
    speech = detect_speech(wav)
    event = parse_programme(truth.schedule.read_bytes(), filename=truth.schedule.name)
    cuts = plan_cuts(event.sessions_in_room(truth.room), recording_start=truth.started_at,
                     duration=info.duration, speech=speech, rules=CutRules())
    return Prepared(truth, info, wav, speech, sum(c.duration for c in cuts),
                    [asdict(c) for c in cuts])


def _probe(src: Path) -> None:
    asyncio.run(probe(src))


def _speech_map(wav: Path) -> None:
    detect_speech(wav)


def stages(out: Path, prepared: Prepared, span: float, model_dir: str) -> list[Stage]:
    from faster_whisper import WhisperModel

    truth, info = prepared.truth, prepared.info
    src = truth.recording
    rungs = choose_ladder(*info.display_size)
    lanes = Lanes.for_threads(CORES)
    first = truth.sessions[0]
    start = first.speech_start
    if first.speech_end - start < span:
        raise SystemExit(f"--span {span} is longer than the first session's speech")
    audio = read_wav_span(prepared.wav, start, start + span)
    event = parse_programme(truth.schedule.read_bytes(), filename=truth.schedule.name)
    hotwords = programme_hotwords(event, [s for s in event.sessions if s.guid == first.guid])

    def config(threads: int) -> WhisperConfig:
        return WhisperConfig(transcribe_model=model_dir, translate_model=model_dir,
                             cpu_threads=threads, beam_size=1)

    ours2 = WhisperTranscriber(config(CORES))
    ours1 = WhisperTranscriber(config(lanes.speech_threads))
    default = WhisperModel(model_dir, device="cpu", compute_type="int8")
    # Load our models now (first use loads them): loading is not what is timed.
    silence = np.zeros(16000, dtype=np.float32)
    for transcriber in (ours1, ours2):
        transcriber.transcribe(silence, task="transcribe", language="fr")

    scratch = out / "scratch"
    wav_out = scratch / "audio16k.wav"
    return [
        Stage("probe (600 s)", "video", lambda: _probe(src), None, info.duration),
        Stage("audio → 16 kHz WAV (600 s)", "audio",
              lambda: run_ours(commands.extract_audio_argv(
                  src, info, fresh(scratch) / wav_out.name, threads=CORES), info.duration),
              None, info.duration),
        Stage("speech map, VAD (600 s)", "audio",
              lambda: _speech_map(prepared.wav), None, info.duration),
        Stage(f"transcode ladder, {span:g} s, threads={lanes.media_threads} (side by side)",
              "video", ours_ladder(src, info, rungs, start, span, scratch, lanes.media_threads),
              baseline_ladder(src, info, rungs, start, span, scratch), span),
        Stage(f"transcode ladder, {span:g} s, threads={CORES} (alone)", "video",
              ours_ladder(src, info, rungs, start, span, scratch, CORES),
              baseline_ladder(src, info, rungs, start, span, scratch), span),
        Stage(f"transcribe fr, {span:g} s, cpu_threads={CORES}", "audio",
              ours_whisper(ours2, audio, "transcribe", hotwords),
              baseline_whisper(default, audio, "transcribe"), span),
        Stage(f"translate en, {span:g} s, cpu_threads={CORES}", "audio",
              ours_whisper(ours2, audio, "translate", None),
              baseline_whisper(default, audio, "translate"), span),
        # The speech lane at 1 thread is timed only beside the media lane, as it runs.
        Stage(f"session {span:g} s: ladder ∥ (transcribe + translate), 1 thread each",
              "video", side_by_side(src, info, rungs, start, span, scratch, ours1, audio,
                                    hotwords), None, span),
    ]


def summarise(timings: list[Timing], order: list[str]) -> str:
    def cell(rates: list[float]) -> str:
        if not rates:
            return "—"
        return f"{statistics.median(rates):.2f}× ({min(rates):.2f}–{max(rates):.2f})"

    lines = ["| stage | ours: median (min–max) | baseline: median (min–max) | ours / baseline |",
             "|---|---|---|---|"]
    for stage in order:
        ours = [t.rate for t in timings if t.stage == stage and t.impl == "ours"]
        base = [t.rate for t in timings if t.stage == stage and t.impl == "baseline"]
        ratio = (f"{statistics.median(ours) / statistics.median(base):.2f}"
                 if ours and base else "—")
        lines.append(f"| {stage} | {cell(ours)} | {cell(base)} | {ratio} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--span", type=float, default=60.0,
                        help="seconds of a session to transcode and transcribe")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    about = machine()
    print(f"uptime before: {about['uptime']}", flush=True)
    prepared = prepare(out)
    model_dir = resolve_model("base", out / "models")
    all_stages = stages(out, prepared, args.span, model_dir)
    timings: list[Timing] = []
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "runs": args.runs, "span": args.span, "machine": about,
        "recording": {"duration": prepared.info.duration,
                      "size": list(prepared.info.display_size), "fps": prepared.info.fps,
                      "speech_seconds": sum(i.length for i in prepared.speech),
                      "publishable_seconds": prepared.publishable, "cuts": prepared.cuts},
        "timings": timings,
    }
    for run in range(1, args.runs + 1):
        for stage in all_stages:
            for impl, work in (("ours", stage.ours), ("baseline", stage.baseline)):
                if work is not None:
                    timings.append(measure(run, stage.name, impl, stage.media_seconds, work))
            _write(out / "results.json", results)
    shutil.rmtree(out / "scratch", ignore_errors=True)
    results["uptime_after"] = machine()["uptime"]
    _write(out / "results.json", results)
    print(f"uptime after: {results['uptime_after']}")
    print()
    print(summarise(timings, [s.name for s in all_stages]))
    return 0


def _write(path: Path, results: dict[str, Any]) -> None:
    data = dict(results)
    data["timings"] = [asdict(t) | {"rate": t.rate} for t in results["timings"]]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
