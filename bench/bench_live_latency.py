"""Glass-to-glass latency of the live in Chromium with hls.js: from the moment a frame
leaves the publisher to the moment the live page shows it.

    python bench/bench_live_latency.py --seconds 90 --out bench/out

The publisher (ffmpeg, `-re`, an encoder in the room) draws the frame's own time on the
picture as a 16-box barcode (hundredths of a second since it started, modulo 655.36 s,
each box white or black), sends it over RTMP to the app's live ingest, and the live page
plays it in headless Chromium (hls.js, the page's own settings). Every half second the
page's frame is copied to a canvas, the barcode read back, and the latency is « now »
minus the moment that frame was sent (one clock: one machine). The camera's and the
encoder's own delay are not in it. The sound is the sample's French speech, looped, so
the live captions run (and set the page's live delay) as on an event day. Beside the
median and 95th percentile it reports what the page's player did: the live delay it was
rendered with, hls.js's `latency` and `targetLatency`, and how far `currentTime` stayed
behind `liveSyncPosition`. Writes ``--out/live-latency.json``.

Never run by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from replay.domain.programme import parse_programme
from replay.live.nginx import APPLICATION
from replay.live.publisher import room_prefix
from replay.sample import SampleSession, build_sample
from replay.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_rig import live_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
BITS = 16
WRAP = 2 ** BITS / 100.0
#: Box i (of 16 across the top quarter) is white when bit i of the centiseconds is set.
BARCODE = ("geq=lum='if(lt(Y,H/4),255*mod(floor(floor(T*100)/pow(2,floor(X*16/W))),2),"
           "96)':cb=128:cr=128")
READ_BARCODE = """() => {
  const video = document.getElementById('live-player');
  if (!video || video.readyState < 2) { return null; }
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  const y = Math.floor(canvas.height / 8);
  let value = 0;
  for (let i = 0; i < 16; i++) {
    const x = Math.floor((i + 0.5) * canvas.width / 16);
    const pixel = context.getImageData(x, y, 1, 1).data;
    if ((pixel[0] + pixel[1] + pixel[2]) / 3 > 128) { value += 2 ** i; }
  }
  const hls = window.replayLive && window.replayLive.hls;
  const main = document.querySelector('main.live');
  return [value, Date.now(), hls ? hls.latency : null, hls ? hls.targetLatency : null,
          hls && hls.liveSyncPosition !== null ? hls.liveSyncPosition - video.currentTime : null,
          main ? parseFloat(main.getAttribute('data-live-delay')) : null];
}"""


def publisher(url: str, seconds: float, speech: Path) -> list[str]:
    """The barcoded picture, and the sample's French speech looped, so that the live
    captions work (and set the page's delay) while the latency is read."""
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", f"color=c=gray:size=640x360:rate=25,format=yuv420p,{BARCODE}",
            "-re", "-stream_loop", "-1", "-i", str(speech), "-map", "0:v", "-map", "1:a",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-tune",
            "zerolatency", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-b:v", "1500k", "-c:a", "aac", "-ar", "48000", "-f", "flv", url]


def latency_ms(value: int, shown_ms: int, sent_origin: float) -> float:
    """The frame's send time is the publisher's start plus its barcode (modulo WRAP)."""
    elapsed = shown_ms / 1000.0 - sent_origin
    sent = value / 100.0 + WRAP * round((elapsed - value / 100.0) / WRAP)
    return (elapsed - sent) * 1000.0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    truth = build_sample(args.out / "latency-sample", duration=30,
                         sessions=(SampleSession("Mesure", 0, 60, paragraphs=1),),
                         started_at=(datetime.now(UTC) - timedelta(seconds=5)).replace(
                             microsecond=0), size=(320, 180), fps=25)
    settings = Settings(data_dir=args.out / "latency-data", cpu_threads=2, port=args.port,
                        live_listen_host="127.0.0.1", live_rtmp_port=args.rtmp_port,
                        live_srt_port=args.srt_port, live_captions_enabled=args.captions)
    event = parse_programme(truth.schedule.read_bytes())
    async with live_app(settings, event) as (_, key):
        url = f"rtmp://127.0.0.1:{settings.live_rtmp_port}/{APPLICATION}/{key.stream_key}"
        sender = await asyncio.create_subprocess_exec(
            *publisher(url, args.seconds, truth.recording))
        sent_origin = time.time()  # -re: the frame at T leaves at about origin + T
        page_url = (f"http://127.0.0.1:{settings.port}/site/"
                    f"{room_prefix(event.slug, truth.room)}/index.html")
        found: list[float] = []
        player: list[list[float | None]] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await asyncio.sleep(args.join_after)
            await page.goto(page_url)
            while sender.returncode is None:
                reading = await page.evaluate(READ_BARCODE)
                if reading is not None:
                    found.append(latency_ms(int(reading[0]), int(reading[1]), sent_origin))
                    player.append(reading[2:])
                await asyncio.sleep(0.5)
            await browser.close()
        settled = found[len(found) // 4:]  # after the player has settled on the live edge
        return {"samples": len(settled), "captions": args.captions,
                "join_after_s": args.join_after,
                "median_ms": round(statistics.median(settled)),
                "p95_ms": round(sorted(settled)[int(0.95 * (len(settled) - 1))]),
                "segment_seconds": settings.live_segment_seconds,
                **page_player(player[len(player) // 4:])}


def page_player(readings: list[list[float | None]]) -> dict[str, float | None]:
    """What the page's player did while it was measured (medians): hls.js's own estimate
    of its distance to the playlist's live edge (`hls.latency`), the latency it aimed at
    (`targetLatency`), how far `video.currentTime` was behind `liveSyncPosition`, and the
    live delay the page was rendered with (`data-live-delay`)."""
    names = ("hls_latency_s", "hls_target_latency_s", "behind_sync_position_s",
             "page_live_delay_s")
    return {name: _median([row[index] for row in readings])
            for index, name in enumerate(names)}


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return round(statistics.median(known), 2) if known else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--port", type=int, default=18181)
    parser.add_argument("--rtmp-port", type=int, default=11986)
    parser.add_argument("--srt-port", type=int, default=19986)
    parser.add_argument("--captions", action=argparse.BooleanOptionalAction, default=True,
                        help="the live captions (on by default, as in the service)")
    parser.add_argument("--join-after", type=float, default=8.0,
                        help="seconds after the publisher starts when the viewer opens the page")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    (args.out / "live-latency.json").write_text(json.dumps(result, indent=1))
    print(f"glass-to-glass: median {result['median_ms'] / 1000:.1f} s, 95th percentile "
          f"{result['p95_ms'] / 1000:.1f} s over {result['samples']} frames "
          f"(captions {'on' if result['captions'] else 'off'}, joined after "
          f"{result['join_after_s']:g} s, segments {result['segment_seconds']:g} s); the page: "
          f"live delay "
          f"{result['page_live_delay_s']} s, hls.js latency {result['hls_latency_s']} s "
          f"(target {result['hls_target_latency_s']} s), behind liveSyncPosition "
          f"{result['behind_sync_position_s']} s")


if __name__ == "__main__":
    sys.exit(main())
