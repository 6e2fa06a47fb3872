"""The ladder's x264 preset by speed and quality: SSIM of every encoded rung against the
source, and the ladder's real-time rate, per preset.

    .venv/bin/python bench/ladder_quality.py --span 60 --rounds 3 --out bench/out

Runs our one-process ladder (the 1080p source copied as the top rung, the lower rungs
encoded with keyframes where the source has them) over ``--span`` seconds of the
end-to-end benchmark's recording, once per preset and round (the presets interleaved; the
rate is the rounds' median), then compares each encoded rung with the source scaled straight to the
rung's size (ffmpeg's ``ssim`` filter, bicubic; the ladder scales each rung from the next
larger one, and that loss counts). ``by-rung`` is the pipeline's own choice (each rung's
preset by its size). The copied rung is the source itself (SSIM 1). Writes
``--out/ladder_quality.json`` and ``--out/ladder_quality.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay.domain.ladder import Rung, choose_ladder, with_passthrough
from replay.media.ladder import encode_ladder
from replay.media.probe import MediaInfo, probe
from replay.media.source import probe_source_video
from roundtables import ten_minutes

BY_RUNG = "by-rung"
PRESETS = (BY_RUNG, "ultrafast", "superfast", "veryfast", "faster")
_SSIM = re.compile(r"All:([0-9.]+)")


async def ssim(rung_playlist: Path, source: Path, start: float, span: float, rung: Rung) -> float:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "info",
            "-f", "hls", "-protocol_whitelist", "file", "-allowed_extensions", "ts",
            "-i", str(rung_playlist), "-ss", f"{start:.6f}", "-t", f"{span:.6f}",
            "-i", str(source), "-filter_complex",
            f"[1:v]scale={rung.width}:{rung.height}:flags=bicubic,setsar=1[ref];"
            "[0:v]setpts=PTS-STARTPTS[enc];[ref]setpts=PTS-STARTPTS[ref0];[enc][ref0]ssim",
            "-f", "null", "-"]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    found = _SSIM.findall(err.decode())
    if proc.returncode or not found:
        raise SystemExit(f"ssim failed for {rung_playlist}: {err.decode()[-500:]}")
    return float(found[-1])


def fresh(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def kbps(folder: Path, span: float) -> float:
    return sum(f.stat().st_size for f in folder.glob("*.ts")) * 8 / span / 1000


async def timed_ladder(src: Path, info: MediaInfo, rungs: list[Rung], start: float,
                       span: float, preset: str, out: Path) -> float:
    await asyncio.to_thread(fresh, out)
    began = time.perf_counter()
    await encode_ladder(src, info, start=start, duration=span, rungs=rungs, out_dir=out,
                        threads=2, timeout=3600, preset=None if preset == BY_RUNG else preset)
    return time.perf_counter() - began


async def one_preset(src: Path, info: MediaInfo, rungs: list[Rung], start: float,
                     span: float, preset: str, out: Path,
                     earlier_walls: Sequence[float]) -> dict[str, object]:
    """The last round of ``preset``: its ladder timed, then the SSIM of its rungs."""
    load = os.getloadavg()[0]
    walls = [*earlier_walls, await timed_ladder(src, info, rungs, start, span, preset, out)]
    wall = statistics.median(walls)
    scores = {r.name: await ssim(out / r.name / "index.m3u8", src, start, span, r)
              for r in rungs if not r.is_audio_only and not r.copy_video}
    sizes = {r.name: await asyncio.to_thread(kbps, out / r.name, span)
             for r in rungs if not r.is_audio_only}
    return {"preset": preset, "wall_s": wall, "walls": walls, "real_time": span / wall,
            "load_before": load, "ssim": scores, "kbps": sizes}


def table(rows: Sequence[dict[str, object]], names: Sequence[str]) -> str:
    lines = ["| preset | ladder × real time | " + " | ".join(f"SSIM {n}" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for row in rows:
        scores = row["ssim"]
        assert isinstance(scores, dict)
        lines.append(f"| {row['preset']} | {row['real_time']:.2f}× | "
                     + " | ".join(f"{scores[n]:.4f}" for n in names) + " |")
    return "\n".join(lines)


async def run(out: Path, span: float, presets: Sequence[str], rounds: int) -> str:
    truth = ten_minutes(out)
    info = await probe(truth.recording)
    wanted = truth.sessions[0].speech_start
    source = await probe_source_video(truth.recording, info, [wanted])
    start = max(k for k in source.keyframes if k <= wanted)
    rungs = with_passthrough(choose_ladder(*info.display_size), source)
    folder = out / "ladder-quality"
    walls: dict[str, list[float]] = {preset: [] for preset in presets}
    for _ in range(rounds - 1):
        for preset in presets:
            walls[preset].append(await timed_ladder(truth.recording, info, rungs, start, span,
                                                    preset, folder / preset))
    rows = [await one_preset(truth.recording, info, rungs, start, span, preset,
                             folder / preset, walls[preset]) for preset in presets]
    names = [r.name for r in rungs if not r.is_audio_only and not r.copy_video]
    result = table(rows, names)
    (out / "ladder_quality.json").write_text(
        json.dumps({"span": span, "start": start, "copied": rungs[0].copy_video,
                    "rounds": rounds, "rows": rows}, indent=1), encoding="utf-8")
    (out / "ladder_quality.md").write_text(result + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--span", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    print(asyncio.run(run(args.out.resolve(), args.span, args.presets.split(","),
                          max(1, args.rounds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
