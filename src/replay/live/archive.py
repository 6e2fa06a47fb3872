"""The archive: a stretch of a room's input, kept as one recording file.

The live ffmpeg copies its input, as received, into chunks of a few seconds. When a
stretch closes (a session's end, or the room going off air between sessions), its
chunks are joined end to end into one MPEG-TS file in the originals folder, named by its
SHA-256 like every original. Chunks of one take are byte-continuous (the segment muxer
keeps the timestamps running); chunks from several takes (the publisher reconnected
mid-session) are joined by ffmpeg's concat demuxer, which closes the gap between clocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

from replay.live.commands import concat_argv, ffconcat
from replay.live.store import Chunk
from replay.media.runner import run_ffmpeg

ARCHIVE_SUFFIX = ".ts"
BLOCK = 4 << 20


def _append(paths: Sequence[Path], target: Path) -> None:
    with target.open("wb") as out:
        for path in paths:
            if path.exists():
                with path.open("rb") as src:
                    while block := src.read(BLOCK):
                        out.write(block)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _into_originals(partial: Path, originals: Path) -> tuple[str, Path]:
    sha256 = _digest(partial)
    target = originals / f"{sha256}{ARCHIVE_SUFFIX}"
    if target.exists():
        partial.unlink()
    else:
        partial.chmod(0o444)
        os.replace(partial, target)
    return sha256, target


async def keep_stretch(chunks: Sequence[Chunk], originals: Path, *,
                       timeout: float) -> tuple[str, Path]:  # noqa: ASYNC109
    """Join `chunks` (in order) into an original; returns its SHA-256 and path."""
    if not chunks:
        raise ValueError("a stretch needs at least one chunk")
    await asyncio.to_thread(originals.mkdir, parents=True, exist_ok=True)
    partial = originals / f".live-{os.getpid()}-{chunks[0].take_id}-{chunks[0].number}.partial"
    takes = [[Path(c.path) for c in group] for _, group in groupby(chunks, lambda c: c.take_id)]
    try:
        if len(takes) == 1:
            await asyncio.to_thread(_append, takes[0], partial)
        else:
            await _join_takes(takes, partial, timeout=timeout)
        return await asyncio.to_thread(_into_originals, partial, originals)
    finally:
        partial.unlink(missing_ok=True)


async def _join_takes(takes: list[list[Path]], partial: Path, *,
                      timeout: float) -> None:  # noqa: ASYNC109
    with tempfile.TemporaryDirectory(dir=partial.parent, prefix=".live-join-") as scratch:
        pieces = [Path(scratch) / f"take{index}.ts" for index in range(len(takes))]
        for paths, piece in zip(takes, pieces, strict=True):
            await asyncio.to_thread(_append, paths, piece)
        listing = Path(scratch) / "pieces.ffconcat"
        listing.write_text(ffconcat(pieces), encoding="utf-8")
        await run_ffmpeg(concat_argv(listing, partial, output_format="mpegts"), timeout=timeout)


def discard_chunks(chunks: Sequence[Chunk]) -> None:
    for chunk in chunks:
        Path(chunk.path).unlink(missing_ok=True)
