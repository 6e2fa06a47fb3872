"""Upload admission: how many uploads an organiser may have in progress, how many bytes
they may announce, and how much free space must stay on the disk.

Both ways in are counted: resumable (tus) uploads not yet complete nor expired, and plain
multipart uploads while they are received (`Quotas.receiving`). Refusals are
`services.errors.Refused` with an HTTP status (429 for too many at once, 507 for bytes: the quota
or the disk) and a French message saying what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from replay.locale import N_, _, ngettext
from replay.services.errors import Refused
from replay.settings import Settings
from replay.web.tus import format_size
from replay.web.uploads_store import Upload, UploadStore

DISK_FULL: Final = N_("Not enough disk space on the server: the file cannot be received for "
                     "now. Try again later, or ask the administrator to free some space.")


@dataclass(frozen=True, slots=True)
class UploadLimits:
    in_flight: int
    quota_bytes: int
    min_free_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(settings.uploads_in_flight_max, settings.upload_quota_bytes,
                   settings.min_free_bytes)


def free_bytes(path: Path) -> int:
    """Free space for the server's user on the disk holding `path` (or its parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


class Quotas:
    """Admits uploads against `limits`. Use it from one event loop. Plain uploads are
    admitted under its lock, resumable ones under the tus app's creation lock: a plain and
    a resumable upload admitted at the very same moment may both take the last room."""

    def __init__(self, limits: UploadLimits, uploads: UploadStore, disk: Path, *,
                 clock: Callable[[], float] = time.time,
                 free: Callable[[Path], int] = free_bytes) -> None:
        self.limits, self.uploads, self.disk = limits, uploads, disk
        self.clock, self.free = clock, free
        self._receiving: dict[str, list[int]] = {}
        self._lock = asyncio.Lock()

    async def admit(self, owner: str, length: int) -> None:
        """Raise `Refused` unless `owner` may start an upload of `length` bytes.
        Callers that create the upload right after hold their own lock (tus does)."""
        active = [u for u in await self.uploads.all()
                  if not u.complete and u.expires > self.clock()]
        mine = [u for u in active if u.owner == owner]
        receiving = self._receiving.get(owner, [])
        if len(mine) + len(receiving) >= self.limits.in_flight:
            raise Refused(ngettext(
                "Already {n} upload in progress: finish or cancel one before starting another.",
                "Already {n} uploads in progress: finish or cancel one before starting another.",
                self.limits.in_flight).format(n=self.limits.in_flight), status=429)
        announced = sum(u.length for u in mine) + sum(receiving)
        if announced + length > self.limits.quota_bytes:
            raise Refused(_("Upload quota exceeded: your uploads in progress announce {announced} "
                            "and the quota is {quota}. Finish or cancel an upload, then start "
                            "again.").format(announced=format_size(announced),
                                             quota=format_size(self.limits.quota_bytes)),
                          status=507)
        await self._check_disk(active, length)

    async def _check_disk(self, active: list[Upload], length: int) -> None:
        pending = sum(u.length - u.offset for u in active)
        pending += sum(size for sizes in self._receiving.values() for size in sizes)
        free = await asyncio.to_thread(self.free, self.disk)
        if free - pending - length < self.limits.min_free_bytes:
            raise Refused(_(DISK_FULL), status=507)

    @contextlib.asynccontextmanager
    async def receiving(self, owner: str, length: int) -> AsyncIterator[None]:
        """Count a plain upload of at most `length` bytes while it is received."""
        async with self._lock:
            await self.admit(owner, length)
            self._receiving.setdefault(owner, []).append(length)
        try:
            yield
        finally:
            sizes = self._receiving[owner]
            sizes.remove(length)
            if not sizes:
                del self._receiving[owner]
