"""How `/health` answers while authenticated clients hammer what used to block the event
loop (issue 9): the events list with a 28,000-session programme present, imports of a
100,000-cue subtitle file, and publications hashing a few hundred megabytes.

A `replay serve` (the real command, workers on the publish queue only) runs as a child
process on 127.0.0.1 over a data directory prepared here. For each scenario, CLIENTS
concurrent clients send their request in a loop for SECONDS while one more client, in a
process of its own, asks `/health` every 20 ms; the table gives `/health`'s latency (p50,
p99, max) and what the clients got. The target is a p99 under 100 ms. Nothing leaves the machine.

    .venv/bin/python bench/bench_health_load.py --seconds 20 --out bench/out/health

The `/health` client has its own process (its own interpreter and event loop): inside the
load clients' loop, its timings also held the time that loop spent building and sending 50
clients' multipart bodies, which is the bench's own delay, not the server's.

Timings taken while anything else runs on the machine are noise: see RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp

from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.domain.transcript import Cue
from replay.domain.webvtt import render_webvtt
from replay.services.captions import vtt_path
from replay.services.workdirs import session_work_dir
from replay.settings import Settings
from replay.store.db import Store
from replay.store.users import Role, Users

CLIENTS = 50
SAMPLE_EVERY = 0.02
BIG_EVENT, BIG_SESSIONS = "grand-evenement", 28_000
SMALL_EVENT = "petit-evenement"
IMPORT_CUES = 100_000
PUBLISH_SEGMENTS, SEGMENT_BYTES = 60, 4 << 20  # 240 MiB of segments to hash each time
T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


@dataclass
class Prepared:
    data_dir: Path
    token: str
    recording: int
    guid: str
    subtitles: bytes


@dataclass
class Outcome:
    scenario: str
    requests: int
    statuses: dict[str, int]
    health_samples: int
    health_p50_ms: float
    health_p99_ms: float
    health_max_ms: float
    health_errors: int = 0
    notes: list[str] = field(default_factory=list)


# -- the data directory ---------------------------------------------------------------------


def _sessions(count: int, room: str) -> tuple[Session, ...]:
    return tuple(Session(guid=f"s{n}", title=f"Session {n}", room=room,
                         start=T0 + timedelta(minutes=n), duration=timedelta(minutes=1),
                         slug=f"session-{n}") for n in range(count))


def _event(slug: str, sessions: tuple[Session, ...]) -> Event:
    return Event(slug=slug, title=slug, start=date(2026, 3, 3), end=date(2026, 3, 23),
                 timezone="Europe/Paris", rooms=("Salle A",), sessions=sessions)


def _write_session_outputs(settings: Settings, store: Store, event: Event) -> tuple[int, str]:
    """One processed session, ready to publish: HLS segments, MP4, captions."""
    session = event.sessions[0]
    recording = store.add_recording(event_slug=event.slug, room="Salle A", sha256="cd" * 32,
                                    original=Path("/dev/null"), source_name="salle-a.mkv",
                                    started_at=T0)
    store.save_cuts(recording.id, [Cut(session.guid, session.title, 0.0, 360.0, 0.0, 360.0,
                                       True, True)])
    root = session_work_dir(settings, recording, session.guid)
    hls, speech = root / "media" / "hls", root / "speech"
    (hls / "480p").mkdir(parents=True)
    speech.mkdir(parents=True)
    names = [f"seg_{n:05d}.ts" for n in range(PUBLISH_SEGMENTS)]
    for name in names:
        (hls / "480p" / name).write_bytes(os.urandom(SEGMENT_BYTES))
    (hls / "480p" / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        + "".join(f"#EXTINF:6.000,\n{name}\n" for name in names) + "#EXT-X-ENDLIST\n")
    (hls / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=854x480\n"
        "480p/index.m3u8\n")
    (hls / "start_time.txt").write_text("0")
    (root / "media" / "replay.mp4").write_bytes(os.urandom(8 << 20))
    cues = render_webvtt([Cue(1.0, 3.0, ("Bonjour à toutes et à tous.",))])
    for lang in ("fr", "en"):
        (speech / f"subtitles.{lang}.vtt").write_text(cues, "utf-8")
    (speech / "transcript.fr.txt").write_text("Bonjour à toutes et à tous.\n", "utf-8")
    (speech / "transcript.fr.json").write_text(json.dumps({"language": "fr", "segments": [
        {"start": 1.0, "end": 3.0, "text": "Bonjour à toutes et à tous.", "words": []}]}))
    for stage in ("media", "speech"):
        store.set_stage(recording.id, session.guid, stage, input_key="bench", status="done")
    if not vtt_path(settings, recording, session.guid, "fr").is_file():
        raise RuntimeError("the session's captions are not where the pipeline puts them")
    return recording.id, session.guid


def _subtitles(count: int) -> bytes:
    """A WebVTT file of `count` half-second cues (hours written, for times past 1 h)."""
    def stamp(ms: int) -> str:
        hours, minutes, seconds = ms // 3_600_000, ms // 60_000 % 60, ms // 1000 % 60
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{ms % 1000:03d}"

    body = "".join(f"{stamp(n * 500)} --> {stamp(n * 500 + 400)}\nx\n\n" for n in range(count))
    return f"WEBVTT\n\n{body}".encode()


def prepare(data_dir: Path) -> Prepared:
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.database_path)
    try:
        users = Users(store.db)
        user = users.add("bench@example.org", "Bench", Role.ORGANISER, "mot de passe du banc")
        store.save_event(_event(BIG_EVENT, _sessions(BIG_SESSIONS, "Salle A")))
        small = _event(SMALL_EVENT, _sessions(3, "Salle A"))
        store.save_event(small)
        recording, guid = _write_session_outputs(settings, store, small)
        return Prepared(data_dir, users.create_token(user.id, "bench"), recording, guid,
                        _subtitles(IMPORT_CUES))
    finally:
        store.close()


# -- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError(f"replay serve exited with {server.returncode}")
            try:
                async with http.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("replay serve did not answer /health within a minute")


# -- load -----------------------------------------------------------------------------------

Request = Callable[[aiohttp.ClientSession], Awaitable[int]]


def scenarios(url: str, prepared: Prepared) -> dict[str, Request | None]:
    captions = f"{url}/api/captions/{prepared.recording}/{prepared.guid}/fr"

    async def events(http: aiohttp.ClientSession) -> int:
        async with http.get(f"{url}/api/events") as response:
            await response.read()
            return response.status

    def subtitle_import(expect100: bool) -> Request:
        async def request(http: aiohttp.ClientSession) -> int:
            form = aiohttp.FormData()
            form.add_field("file", prepared.subtitles, filename="cent-mille.vtt",
                           content_type="text/vtt")
            async with http.post(f"{captions}/import", data=form, expect100=expect100,
                                 headers={"If-Match": '"v1"'}) as response:
                await response.read()
                return response.status
        return request

    async def publication(http: aiohttp.ClientSession) -> int:
        path = f"/api/sessions/{prepared.recording}/{prepared.guid}/publish"
        async with http.post(url + path) as response:
            await response.read()
            return response.status

    return {"idle (no load)": None, "GET /api/events (28 000 sessions present)": events,
            "POST subtitle import (100 000 cues)": subtitle_import(expect100=False),
            "POST subtitle import (100 000 cues), Expect: 100-continue as curl sends":
                subtitle_import(expect100=True),
            "POST publish (240 MiB of segments hashed per run)": publication}


async def sample_health(url: str, until: float) -> tuple[list[float], int]:
    latencies, errors = [], 0
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                async with http.get(f"{url}/health") as response:
                    await response.read()
                    latencies.append(time.perf_counter() - started)
            except aiohttp.ClientError:
                errors += 1
            await asyncio.sleep(SAMPLE_EVERY)
    return latencies, errors


def probe_health(url: str, seconds: float) -> tuple[list[float], int]:
    """`sample_health` for `seconds`, in the process that runs it (see the docstring)."""
    return asyncio.run(sample_health(url, time.monotonic() + seconds))


async def client(request: Request, token: str, until: float, statuses: Counter[str]) -> None:
    """Send `request` again and again until `until` (cancelled then if still waiting)."""
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"},
                                     timeout=timeout) as http:
        while time.monotonic() < until:
            try:
                statuses[str(await request(http))] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1


async def run_scenario(name: str, request: Request | None, url: str, token: str,
                       seconds: float, prober: ProcessPoolExecutor) -> Outcome:
    until = time.monotonic() + seconds
    statuses: Counter[str] = Counter()
    probing = asyncio.get_running_loop().run_in_executor(prober, probe_health, url, seconds)
    clients = [] if request is None else [
        asyncio.create_task(client(request, token, until, statuses)) for _ in range(CLIENTS)]
    latencies, errors = await probing
    for task in clients:  # a request still waiting (imports queue for the worker) is dropped
        task.cancel()
    unfinished = sum(isinstance(r, asyncio.CancelledError)
                     for r in await asyncio.gather(*clients, return_exceptions=True))
    if unfinished:
        statuses["unfinished"] += unfinished
    ms = sorted(1000 * latency for latency in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan")
    return Outcome(name, sum(statuses.values()), dict(statuses), len(ms),
                   statistics.median(ms) if ms else float("nan"), p99,
                   ms[-1] if ms else float("nan"), errors)


def table(outcomes: list[Outcome]) -> str:
    lines = ["| scenario | requests (statuses) | /health samples | p50 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|"]
    for o in outcomes:
        statuses = ", ".join(f"{k}×{v}" for k, v in sorted(o.statuses.items())) or "—"
        lines.append(f"| {o.scenario} | {o.requests} ({statuses}) | {o.health_samples} | "
                     f"{o.health_p50_ms:.1f} | {o.health_p99_ms:.1f} | {o.health_max_ms:.1f} |")
    return "\n".join(lines)


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`replay serve` on 127.0.0.1, running publish jobs only."""
    return subprocess.Popen(
        [sys.executable, "-m", "replay", "--data-dir", str(data_dir), "serve", "--host",
         "127.0.0.1", "--port", str(port), "--workers", "publish"],
        env={**os.environ, "REPLAY_CPU_THREADS": "2"})


async def bench(args: argparse.Namespace) -> list[Outcome]:
    data_dir = args.out / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    print(f"preparing {data_dir} ...", file=sys.stderr)
    prepared = prepare(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    prober = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        await wait_until_up(url, server)
        outcomes = []
        for name, request in scenarios(url, prepared).items():
            print(f"{name} ...", file=sys.stderr)
            outcomes.append(await run_scenario(name, request, url, prepared.token,
                                               args.seconds, prober))
        return outcomes
    finally:
        prober.shutdown()
        server.terminate()
        server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    parser.add_argument("--out", type=Path, default=Path("bench/out/health"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = os.getloadavg()
    outcomes = asyncio.run(bench(args))
    print(table(outcomes))
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "system": platform.platform(), "loadavg_before": started,
                          "loadavg_after": os.getloadavg()},
              "clients": CLIENTS, "seconds": args.seconds,
              "outcomes": [asdict(o) for o in outcomes]}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    worst = max(o.health_p99_ms for o in outcomes)
    print(f"worst /health p99: {worst:.1f} ms (target < 100 ms); load average before "
          f"{started[0]:.2f}, after {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
