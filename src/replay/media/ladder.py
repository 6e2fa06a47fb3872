"""Running a session's ladder: :func:`replay.media.commands.ladder_argv` with its folders
made before and its master playlist joined after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from replay.domain.ladder import Rung
from replay.media import commands
from replay.media.probe import MediaInfo, MediaInput
from replay.media.runner import run_ffmpeg


def _make_folders(out_dir: Path, rungs: Sequence[Rung]) -> None:
    for folder in commands.ladder_folders(out_dir, rungs):
        folder.mkdir(parents=True, exist_ok=True)


def write_master_playlist(out_dir: Path, rungs: Sequence[Rung]) -> Path:
    """``out_dir/master.m3u8`` from the variants' own, which are then removed."""
    variants = [(rung.name, out_dir / rung.name / commands.VARIANT_MASTER)
                for rung in commands.variant_order(rungs)]
    master = out_dir / commands.MASTER_PLAYLIST
    master.write_text(commands.master_playlist(
        [(name, path.read_text(encoding="utf-8")) for name, path in variants]),
        encoding="utf-8")
    for _, path in variants:
        path.unlink()
    return master


async def encode_ladder(
    src: MediaInput,
    info: MediaInfo,
    *,
    start: float,
    duration: float,
    rungs: Sequence[Rung],
    out_dir: Path,
    threads: int,
    timeout: float,  # noqa: ASYNC109 - run_ffmpeg's, which kills the process
    segment_seconds: float = 6.0,
    preset: str | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Encode ``[start, start+duration)`` of ``src`` into ``out_dir`` as HLS, every rung
    (see :func:`~replay.media.commands.ladder_argv`); returns the master playlist."""
    argv = commands.ladder_argv(src, info, start=start, duration=duration, rungs=rungs,
                                out_dir=out_dir, segment_seconds=segment_seconds,
                                threads=threads, preset=preset)
    await asyncio.to_thread(_make_folders, out_dir, rungs)
    await run_ffmpeg(argv, expected_duration=duration, on_progress=on_progress,
                     timeout=timeout)
    return await asyncio.to_thread(write_master_playlist, out_dir, rungs)
