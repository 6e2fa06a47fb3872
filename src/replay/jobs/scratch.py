"""Scratch that a killed process left in its data directory, removed when a worker starts
and no other process uses that directory.

A job's attempt writes scratch beside its outputs (`context.WorkContext.scratch`,
`storage.exchange`) and a later attempt of the same job removes what an earlier one left.
When the data directory is the machine's own (scale-out: each machine has its own, files
move through the object store), the later attempt may run on another machine: nobody
would ever remove a SIGKILLed worker's scratch. So every replay command holds a shared
lock on ``<data>/.in-use`` while it runs, and a worker that finds the lock free (no other
process here) removes the leftovers before it takes any job. A data directory shared
by several processes is never swept while one of them runs.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

IN_USE = ".in-use"
#: Scratch names: an attempt's (`.NAME.TAG.partial[.SUFFIX]`), a fetch's
#: (`.NAME.fetch-TAG.partial`), a folder moved aside before its removal (`.NAME.TAG.old`).
SCRATCH_PATTERNS = (".*.partial*", ".*.old")
SWEPT_FOLDERS = ("work", "originals")


@contextmanager
def data_dir_in_use(data_dir: Path, *, sweep: bool = False,
                    create: bool = True) -> Iterator[list[Path]]:
    """Hold the data directory's shared lock; first, when `sweep` and no other process
    holds it, remove the scratch left there (yielded). The directory is created unless
    `create` is False (then, where it does not exist, there is nothing to lock); without
    a writable data directory there is no lock, and nothing is swept."""
    try:
        if create:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, as the store's
        fd = os.open(data_dir / IN_USE, os.O_RDONLY | os.O_CREAT, 0o600)
    except OSError:
        yield []
        return
    try:
        swept = _sweep_if_alone(fd, data_dir) if sweep else []
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield swept
    finally:
        os.close(fd)  # releases the lock


def _sweep_if_alone(fd: int, data_dir: Path) -> list[Path]:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return []
    swept = leftover_scratch(data_dir)
    for path in swept:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if swept:
        log.warning("removed %d scratch file(s) left by a stopped process in %s",
                    len(swept), data_dir)
    return swept


def leftover_scratch(data_dir: Path) -> list[Path]:
    """The scratch files and folders under the data directory's work and originals
    (the outermost ones: a scratch folder's contents are not listed again)."""
    found: list[Path] = []
    for folder in SWEPT_FOLDERS:
        for pattern in SCRATCH_PATTERNS:
            found.extend((data_dir / folder).rglob(pattern))
    outermost = sorted(set(found), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in outermost:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept
