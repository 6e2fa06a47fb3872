"""Scale-out, simulated on one machine: the same recordings through `replay worker`
processes with one media worker, then with two.

    .venv/bin/python bench/bench_workers.py --runs 2 --out bench/out
    .venv/bin/python bench/bench_workers.py --recording ten-minutes --out bench/out
    REPLAY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_workers.py --out bench/out      # jobs in procrastinate

Each run starts, as separate processes on a fresh data directory: ``--media`` media
workers (1, then 2), one speech worker and one publish worker, all ``replay worker``
(the queue from the settings: SQLite by default, or PostgreSQL through
``REPLAY_DATABASE_URL``); then ``replay ingest`` hands them the recording (cached by
bench/roundtables.py: by default the small four-roundtable event, four sessions of
320x180, so four media jobs and four speech jobs after its analysis; ``--recording
ten-minutes`` the end-to-end benchmark's 1080p25 recording, two sessions whose ladders
are the heavy part), and the clock runs until every job is
done and the event's index is published. Runs alternate (1, 2, 1, 2, ...) so that
background load hits both alike.

What it measures is wall time and the CPU seconds of the worker processes. It is a
simulation: every process shares this machine's cores, so a second media worker only
helps when the first leaves cores idle (one session's encode is not enough to fill
them, or speech waits); on separate machines each worker brings its own cores, and the
figure to read is the media queue's share of the work (its jobs' total time, printed
too), which two machines halve at best. Writes ``--out/workers.json`` and
``--out/workers.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay.jobs.factory import open_queue
from replay.jobs.queue import JobStatus
from replay.settings import load_settings
from roundtables import RECORDINGS

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Run:
    run: int
    media_workers: int
    wall_s: float
    worker_cpu_s: float
    media_job_s: float
    jobs: int
    failed: int


def start_worker(queue: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "replay", "worker", "--queue", queue],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


async def wait_until_done(env: dict[str, str], expected_recordings: int,
                          deadline: float) -> tuple[int, int, float]:
    """Poll the queue until nothing is waiting or running and every recording's
    publication ran; returns (jobs, failed, total seconds of the media queue's jobs)."""
    settings = load_settings(environ=env)
    queue = await open_queue(settings)
    try:
        async with asyncio.timeout(deadline):
            while True:
                jobs = await queue.list()
                active = [j for j in jobs if j.status in (JobStatus.TODO, JobStatus.DOING)]
                published = [j for j in jobs if j.task == "publish_event"
                             and j.status == JobStatus.SUCCEEDED]
                analysed = [j for j in jobs if j.task == "analyse_recording"
                            and j.status == JobStatus.SUCCEEDED]
                failed = [j for j in jobs if j.status == JobStatus.FAILED]
                if failed or (not active and published
                              and len(analysed) >= expected_recordings):
                    media = sum(j.updated_at - j.created_at for j in jobs
                                if j.queue == "media")
                    return len(jobs), len(failed), media
                await asyncio.sleep(0.5)
    finally:
        await queue.close()


def one_run(run: int, media_workers: int, recordings: Sequence[Path], schedule: Path,
            room: str, started_at: str, scratch: Path, timeout: float) -> Run:
    data = scratch / f"run{run}-media{media_workers}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = {**os.environ, "REPLAY_DATA_DIR": str(data), "REPLAY_LIVE_ENABLED": "false"}
    queues = ["media"] * media_workers + ["speech", "publish"]
    workers = [start_worker(q, env, data / f"{q}-{n}.log") for n, q in enumerate(queues)]
    started = time.monotonic()
    try:
        for recording in recordings:
            subprocess.run(
                [sys.executable, "-m", "replay", "ingest", str(recording), "--schedule",
                 str(schedule), "--room", room, "--started-at", started_at],
                env=env, check=True, stdout=subprocess.DEVNULL)
        try:
            jobs, failed, media_s = asyncio.run(wait_until_done(env, len(recordings), timeout))
        except TimeoutError:
            print(f"run {run}: abandoned after {timeout:g} s (see the logs in {data})",
                  flush=True)
            jobs, failed, media_s = 0, -1, 0.0
        wall = time.monotonic() - started
        cpu = sum(cpu_seconds(w.pid) for w in workers)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
    return Run(run, media_workers, wall, cpu, media_s, jobs, failed)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "load": os.getloadavg(),
            "queue": "postgresql" if os.environ.get("REPLAY_DATABASE_URL", "").startswith(
                "postgres") else "sqlite"}


def summary(runs: Sequence[Run]) -> str:
    lines = ["| media workers | runs | wall s (median) | worker CPU s | media jobs s |",
             "|---|---|---|---|---|"]
    for n in sorted({r.media_workers for r in runs}):
        mine = [r for r in runs if r.media_workers == n and not r.failed]
        if mine:
            lines.append(f"| {n} | {len(mine)} | {statistics.median(r.wall_s for r in mine):.1f}"
                         f" | {statistics.median(r.worker_cpu_s for r in mine):.1f}"
                         f" | {statistics.median(r.media_job_s for r in mine):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs of each configuration")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--media", type=int, nargs="+", default=[1, 2],
                        help="media worker counts to compare")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds a run may take before it is abandoned")
    parser.add_argument("--recording", choices=tuple(RECORDINGS), default="four-roundtables")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    truth = RECORDINGS[args.recording](args.out)
    recordings = [truth.recording]
    runs: list[Run] = []
    for run in range(args.runs):
        for media in args.media:
            result = one_run(run, media, recordings, truth.schedule, truth.room,
                             truth.started_at.isoformat(), args.out / "workers", args.timeout)
            print(f"run {run}: {media} media worker(s): {result.wall_s:.1f} s, "
                  f"{result.failed} failed job(s) (-1: abandoned)", flush=True)
            runs.append(result)
    name = "workers" if args.recording == "four-roundtables" else f"workers-{args.recording}"
    (args.out / f"{name}.json").write_text(json.dumps(
        {"machine": machine(), "recording": args.recording, "runs": [asdict(r) for r in runs]},
        indent=2))
    (args.out / f"{name}.md").write_text(summary(runs))
    print(summary(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
