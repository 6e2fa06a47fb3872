"""End to end: the whole `replay process` beside the naive pipeline, on the same recording.

    .venv/bin/python bench/bench_e2e.py --runs 3 --out bench/out

Generates (once, cached in ``--out/ten-minutes``) 10 minutes of 1080p25 H.264 at about
6 Mb/s with 2-second GOPs, two roundtables back to back of continuous French speech
(espeak-ng, several voices, the programme's names spoken) filling about 80 % of it. Then,
``--runs`` times, interleaved so that background load hits both alike:

- ours: ``python -m replay process RECORDING --schedule ... --room ...`` in a fresh data
  directory (default settings: every core, the bundled Whisper ``base``);
- baseline: ``bench/baseline.py`` (one ffmpeg per rendition over the whole file, then the
  default ``transcribe()`` for French and again for the translate task);

each as a child process, measuring wall time, CPU seconds (the child and everything it
waited for), peak RSS (the sum over the child's process tree, sampled every 0.2 s) and
the French WER of its transcripts against what was said. Then the ladder alone (ours, a
session's span, ``threads=2``) for its real-time rate. Writes ``--out/e2e.json`` (every
run, the machine, its load) and ``--out/e2e.md`` (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay.domain.ladder import choose_ladder, with_passthrough
from replay.media.ladder import encode_ladder
from replay.media.probe import probe
from replay.media.source import probe_source_video
from replay.sample import SampleTruth
from replay.speech.models import resolve_model
from roundtables import RECORDINGS
from wer import wer_counts

ROOT = Path(__file__).resolve().parents[1]
EVENT = "demo-mission-villes"
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Measure:
    run: int
    impl: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    french_wer: float
    load_before: float
    load_after: float


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


#: Wall seconds, CPU seconds, peak RSS of the process tree in bytes.
Usage = tuple[float, float, float]


def run_child(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Usage:
    """Run ``argv`` (output to ``log``); (wall seconds, CPU seconds, peak RSS of its tree
    in bytes)."""
    began = time.perf_counter()
    with log.open("wb") as sink:
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                 stdout=sink, stderr=subprocess.STDOUT)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, _rss(_tree(child.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed with exit status {child.returncode}, see {log}")
    return time.perf_counter() - began, usage.ru_utime + usage.ru_stime, peak


def _french_wer(truth: SampleTruth, transcripts: Sequence[Path]) -> float:
    said = " ".join(s.text for s in truth.sessions)
    heard = " ".join(p.read_text(encoding="utf-8") for p in transcripts)
    errors, count = wer_counts(said, heard)
    return errors / count


def ours(truth: SampleTruth, scratch: Path, models: Path) -> tuple[Callable[[], Usage], list[Path]]:
    data = scratch / "ours"
    argv = [sys.executable, "-m", "replay", "--data-dir", str(data), "process",
            str(truth.recording), "--schedule", str(truth.schedule), "--room", truth.room]
    env = {**os.environ, "REPLAY_MODEL_CACHE_DIR": str(models)}
    transcripts = [data / "site" / EVENT / f"demo-{i}" / "transcript.fr.txt"
                   for i in range(len(truth.sessions))]

    def work() -> Usage:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        return run_child(argv, scratch / "ours.log", env)

    return work, transcripts


def baseline(truth: SampleTruth, scratch: Path, model: str) -> tuple[Callable[[], Usage],
                                                                    list[Path]]:
    out = scratch / "baseline"
    info = asyncio.run(probe(truth.recording))
    width, height = info.display_size
    argv = [sys.executable, str(ROOT / "bench" / "baseline.py"), str(truth.recording),
            str(truth.schedule), str(out), "--model", model, "--size", f"{width}x{height}",
            "--fps", str(round(info.fps))]

    def work() -> Usage:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        return run_child(argv, scratch / "baseline.log")

    return work, [out / "transcript.fr.txt"]


def measure(run: int, impl: str, work: Callable[[], Usage], truth: SampleTruth,
            transcripts: Sequence[Path]) -> Measure:
    load_before = os.getloadavg()[0]
    wall, cpu, peak = work()
    result = Measure(run, impl, wall, cpu, peak / 2**20, _french_wer(truth, transcripts),
                     load_before, os.getloadavg()[0])
    print(f"run {run} {impl:8}: {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
          f"{result.peak_rss_mib:6.0f} MiB, WER {result.french_wer:.3f}, load "
          f"{load_before:.2f}->{result.load_after:.2f}", flush=True)
    return result


async def ladder_alone(truth: SampleTruth, scratch: Path) -> dict[str, float]:
    """Our ladder over the first session's span (moved onto a keyframe), 2 threads."""
    info = await probe(truth.recording)
    first = truth.sessions[0]
    start, end = first.speech_start - 1.0, first.speech_end + 1.0
    source = await probe_source_video(truth.recording, info, [start])
    # The pipeline moves a session's start back onto a keyframe the same way.
    start = max((k for k in source.keyframes if k <= start), default=start)
    rungs = with_passthrough(choose_ladder(*info.display_size), source)
    out = scratch / "ladder"
    await asyncio.to_thread(shutil.rmtree, out, True)
    began = time.perf_counter()
    await encode_ladder(truth.recording, info, start=start, duration=end - start,
                        rungs=rungs, out_dir=out, threads=2, timeout=3600)
    wall = time.perf_counter() - began
    return {"span_s": end - start, "wall_s": wall, "real_time": (end - start) / wall,
            "copied_top_rung": float(rungs[0].copy_video)}


def machine() -> dict[str, Any]:
    def out(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    return {"nproc": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "lscpu": out("lscpu"),
            "memory": out("free", "-h"), "ffmpeg": out("ffmpeg", "-version").splitlines()[0],
            "uptime": out("uptime").strip()}


def summary(measures: Sequence[Measure], ladders: Sequence[dict[str, float]]) -> str:
    def median(impl: str, name: str) -> float:
        return statistics.median(getattr(m, name) for m in measures if m.impl == impl)

    lines = ["| | wall s | CPU s | peak RSS MiB | French WER |", "|---|---|---|---|---|"]
    for impl in ("ours", "baseline"):
        lines.append(f"| {impl} | {median(impl, 'wall_s'):.0f} | {median(impl, 'cpu_s'):.0f} | "
                     f"{median(impl, 'peak_rss_mib'):.0f} | {median(impl, 'french_wer'):.3f} |")
    ratio = median("baseline", "wall_s") / median("ours", "wall_s")
    cpu = median("baseline", "cpu_s") / median("ours", "cpu_s")
    lines.append(f"\nbaseline / ours: {ratio:.2f}× on wall time, {cpu:.2f}× on CPU seconds "
                 f"(median of {len(measures) // 2} runs).")
    if ladders:
        rates = [ladder["real_time"] for ladder in ladders]
        lines.append(f"Ladder alone (first session, {ladders[0]['span_s']:.0f} s, 2 threads): "
                     f"{statistics.median(rates):.2f}× real time "
                     f"(runs: {', '.join(f'{r:.2f}' for r in rates)}).")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--skip-baseline", action="store_true",
                        help="ours only (a quick check of the script)")
    parser.add_argument("--recording", choices=tuple(RECORDINGS),
                        default="ten-minutes",
                        help="four-roundtables: a small 320x180 event, to check the script")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    truth = RECORDINGS[args.recording](out)
    models = out / "models"
    model = resolve_model("base", models)
    scratch = out / f"e2e-scratch-{args.recording}"
    about = machine()
    print(f"uptime before: {about['uptime']}", flush=True)
    ours_work, ours_texts = ours(truth, scratch, models)
    base_work, base_texts = baseline(truth, scratch, model)
    name = "e2e" if args.recording == "ten-minutes" else f"e2e-{args.recording}"
    measures: list[Measure] = []
    ladders: list[dict[str, float]] = []
    results: dict[str, Any] = {"command": " ".join(sys.argv), "machine": about}
    for run in range(1, args.runs + 1):
        measures.append(measure(run, "ours", ours_work, truth, ours_texts))
        if not args.skip_baseline:
            measures.append(measure(run, "baseline", base_work, truth, base_texts))
        ladders.append(asyncio.run(ladder_alone(truth, scratch)))
        print(f"run {run} ladder alone: {ladders[-1]['real_time']:.2f}× real time", flush=True)
        results |= {"measures": [asdict(m) for m in measures], "ladder": ladders}
        (out / f"{name}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    results["uptime_after"] = machine()["uptime"]
    (out / f"{name}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not args.skip_baseline:
        table = summary(measures, ladders)
        (out / f"{name}.md").write_text(table + "\n", encoding="utf-8")
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
