"""The live ladder's cost and whether it keeps up: CPU per second of input and the lag of
the live edge over a long run, for a 1080p25, 6 Mb/s H.264 input with French speech.

    python bench/bench_live.py --minutes 0.4 --every 3 --out bench/out   # smoke check
    python bench/bench_live.py --minutes 30 --out bench/out    # the soak the issue asks for

Runs the real thing in one process: the app's live supervisor (nginx RTMP, the take's
ffmpeg, the object store on disk), fed by ffmpeg publishing a generated source with `-re`
(looped). Every 10 s it samples the CPU time of the service and its children (the
publisher excepted) and the lag: how long ago, on the wall clock, the newest published
segment's last frame was sent. A live that keeps up has a flat lag; a growing lag means
the machine cannot encode the ladder in real time. The live captions run beside the
ladder as in the service (``--no-captions`` turns them off): each sample splits the CPU
between the ladder (the service's children: ffmpeg, nginx) and the captions (this
process: Whisper's threads and the event loop), and gives the captions' lag (how long the
last subtitle segment waited for its words after its video segment, and how many
subtitle segments are behind the video) and the seconds of audio Whisper skipped. Results
go to ``--out/live.json`` and a Markdown summary is printed.

Never run by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from replay.domain.programme import parse_programme
from replay.live.nginx import APPLICATION
from replay.live.room_captions import LiveCaptions
from replay.live.store import LiveStore
from replay.live.web import LIVE
from replay.sample import SampleSession, build_sample
from replay.settings import Settings
from replay.store.factory import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_rig import live_app

SOURCE_SECONDS = 60
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY = 10.0


def source(out: Path) -> tuple[Path, Path]:
    """A 60-s 1080p25 H.264 loop at 6 Mb/s (noisy, so the bits are really spent) with
    French speech, keyframes every 2 s as OBS sends them; and its programme."""
    folder = out / "live-source"
    video = folder / "source-1080p25-6M.mp4"
    speech = build_sample(folder / "speech", duration=SOURCE_SECONDS,
                          sessions=(SampleSession("Direct", 0, 60, paragraphs=8),),
                          size=(320, 180), fps=25)
    if not video.is_file():
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i",
             f"testsrc2=size=1920x1080:rate=25:duration={SOURCE_SECONDS},noise=alls=12:allf=t",
             "-i", str(speech.recording), "-map", "0:v", "-map", "1:a",
             "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-maxrate", "6M",
             "-bufsize", "12M", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ar", "48000",
             "-t", str(SOURCE_SECONDS), str(video)], check=True)
    return video, speech.schedule


def descendants_cpu(exclude: set[int]) -> float:
    """CPU seconds of this process's children (and theirs), `exclude`d ones left out."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    mine = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine and pid not in exclude:
                mine.add(pid)
                grew = True
    mine.discard(os.getpid())
    return sum(times.get(pid, 0.0) for pid in mine)


def lag(live: LiveStore, slug: str, room: str) -> float | None:
    takes = live.takes_of(slug, room)
    if not takes:
        return None
    take = takes[-1]
    rungs = live.rungs_of_day(slug, room, take.day)
    video = sorted(r for r in rungs if r != "audio")
    if not rungs:
        return None
    segments = [s for s in live.segments(slug, room, take.day, (video or rungs)[0])
                if s.take == take.id]
    if not segments:
        return None
    edge = take.wall_start + timedelta(seconds=segments[-1].start + segments[-1].duration)
    return (datetime.now(UTC) - edge).total_seconds()


def caption_state(captions: LiveCaptions | None, live: LiveStore, slug: str,
                  room: str) -> dict[str, float]:
    """The captions' lag now: the last subtitle segment's wait, the subtitle segments
    behind the video, and the audio skipped so far by the takes' captioners."""
    if captions is None:
        return {}
    wait = captions.caption_wait(slug, room)
    published = sum(len(r.published) for (day, language), r in captions.renditions.items()
                    if (day.event_slug, day.room, language) == (slug, room, "fr"))
    takes = live.takes_of(slug, room)
    video = 0
    if takes:
        rungs = sorted(r for r in live.rungs_of_day(slug, room, takes[-1].day) if r != "audio")
        video = len(live.segments(slug, room, takes[-1].day, rungs[0])) if rungs else 0
    skipped = sum(c.dropped_seconds for t in captions.takes.values() for c in t.captioners)
    return {"caption_wait": wait if wait is not None else -1.0,
            "subtitle_segments_behind": float(max(0, video - published)),
            "caption_skipped_s": skipped}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    video, schedule = source(args.out)
    settings = Settings(data_dir=args.out / "live-data", cpu_threads=args.threads,
                        port=args.port, live_listen_host="127.0.0.1",
                        live_rtmp_port=args.rtmp_port, live_srt_port=args.srt_port,
                        live_captions_enabled=args.captions,
                        live_captions_english=args.english,
                        live_caption_niceness=args.niceness)
    event = parse_programme(schedule.read_bytes())
    async with live_app(settings, event) as (app, key):
        room = event.rooms[0]
        # The bench's own connection: the app's store work runs on the app's store thread.
        with contextlib.closing(open_store(settings)) as store:
            live = LiveStore(store.db)
            captions = next((listener for listener in app[LIVE].listeners
                             if isinstance(listener, LiveCaptions)), None)
            seconds = args.minutes * 60
            publisher = await asyncio.create_subprocess_exec(
                "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
                "-stream_loop", "-1", "-i", str(video), "-t", str(seconds), "-c", "copy",
                "-f", "flv", f"rtmp://127.0.0.1:{settings.live_rtmp_port}/{APPLICATION}/"
                             f"{key.stream_key}")
            started, cpu0, own0 = time.monotonic(), descendants_cpu({publisher.pid}), \
                time.process_time()
            samples: list[dict[str, float]] = []
            while publisher.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(publisher.wait(), args.every)
                elapsed = time.monotonic() - started
                ladder = descendants_cpu({publisher.pid}) - cpu0
                own = time.process_time() - own0
                behind = lag(live, event.slug, room)
                if behind is not None:
                    state = caption_state(captions, live, event.slug, room)
                    samples.append({"elapsed": elapsed, "cpu": ladder + own, "cpu_ladder": ladder,
                                    "cpu_service": own, "lag": behind, **state})
                    line = (f"{elapsed:7.0f} s  CPU {(ladder + own) / elapsed:5.2f} s/s (ladder "
                            f"{ladder / elapsed:4.2f}, captions and service {own / elapsed:4.2f})"
                            f"  lag {behind:5.1f} s")
                    if state:
                        line += (f"  captions: wait {state['caption_wait']:4.1f} s, "
                                 f"{state['subtitle_segments_behind']:.0f} segments behind, "
                                 f"{state['caption_skipped_s']:.1f} s skipped")
                    print(line, flush=True)
            return summary(samples, args)


def summary(samples: list[dict[str, float]], args: argparse.Namespace) -> dict[str, Any]:
    if len(samples) < 4:
        raise SystemExit("too short a run to say anything: give --minutes 2 or more "
                         "(or a smaller --every for a smoke check)")
    last = samples[-1]
    quarter = max(1, len(samples) // 4)
    early = statistics.median(s["lag"] for s in samples[:quarter])
    late = statistics.median(s["lag"] for s in samples[-quarter:])
    result = {
        "minutes": args.minutes, "threads": args.threads, "cores": os.cpu_count(),
        "cpu_seconds_per_input_second": round(last["cpu"] / last["elapsed"], 3),
        "ladder_cpu_seconds_per_input_second": round(last["cpu_ladder"] / last["elapsed"], 3),
        "service_cpu_seconds_per_input_second": round(last["cpu_service"] / last["elapsed"],
                                                      3),
        "lag_first_quarter_s": round(early, 2), "lag_last_quarter_s": round(late, 2),
        "lag_growth_s": round(late - early, 2), "keeps_up": late - early < 2.0,
        "captions": args.captions, "english": args.english, "niceness": args.niceness,
        "samples": samples,
    }
    if args.captions:
        waits = [s["caption_wait"] for s in samples if s.get("caption_wait", -1.0) >= 0]
        result |= {
            "caption_wait_median_s": round(statistics.median(waits), 2) if waits else None,
            "caption_wait_max_s": round(max(waits), 2) if waits else None,
            "caption_wait_last_quarter_median_s": round(statistics.median(
                waits[-max(1, len(waits) // 4):]), 2) if waits else None,
            "caption_skipped_s": last.get("caption_skipped_s", 0.0),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--every", type=float, default=SAMPLE_EVERY,
                        help="seconds between two samples")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--port", type=int, default=18180)
    parser.add_argument("--rtmp-port", type=int, default=11985)
    parser.add_argument("--srt-port", type=int, default=19985)
    parser.add_argument("--captions", action=argparse.BooleanOptionalAction, default=True,
                        help="the live captions beside the ladder, as in the service "
                             "(default: on)")
    parser.add_argument("--english", choices=("auto", "on", "off"), default="auto",
                        help="English live subtitles beside the French (default: auto, off "
                             "on the CPU)")
    parser.add_argument("--niceness", type=int, default=Settings().live_caption_niceness,
                        help="how much the captions' threads yield the CPU to the ladder "
                             "(live_caption_niceness; 0: not at all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    (args.out / "live.json").write_text(json.dumps(result, indent=1))
    print(f"\n| input | threads | captions (English, niceness) | CPU s per s of input "
          f"(ladder + captions and service) | lag, first quarter | lag, last quarter | "
          f"keeps up | caption wait, median / max | audio skipped |\n"
          f"|---|---|---|---|---|---|---|---|---|\n"
          f"| 1080p25 6 Mb/s, {args.minutes:g} min | {result['threads']} | "
          f"{f'on ({args.english}, {args.niceness})' if args.captions else 'off'} | "
          f"{result['cpu_seconds_per_input_second']} "
          f"({result['ladder_cpu_seconds_per_input_second']} + "
          f"{result['service_cpu_seconds_per_input_second']}) | "
          f"{result['lag_first_quarter_s']} s | {result['lag_last_quarter_s']} s | "
          f"{'yes' if result['keeps_up'] else 'no'} | "
          f"{result.get('caption_wait_median_s')} / {result.get('caption_wait_max_s')} s | "
          f"{result.get('caption_skipped_s', '-')} s |")


if __name__ == "__main__":
    main()
