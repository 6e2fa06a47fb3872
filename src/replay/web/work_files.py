"""The work files that the editor and the boundary tools read (a session's `speech/` and
`media/` folders, the recording's 16 kHz audio and speech map), made present in this
process's data directory before a handler reads them.

When the object store is a directory of this machine, every process reads the same data
directory and nothing moves. Otherwise the jobs may have run on other machines: what
they shared (`storage.exchange`) is fetched on demand, checked against its SHA-256 (a
folder's manifest), and kept, so a later request downloads nothing unless the jobs made
the files again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from replay.services.workdirs import session_work_dir
from replay.storage.exchange import ExchangeError, exchange_for
from replay.store.db import Recording
from replay.web.keys import OBJECTS, SETTINGS

log = logging.getLogger(__name__)


async def present(request: web.Request, path: Path) -> bool:
    """Whether `path` (in the data directory) is here, after fetching it when it was made
    on another machine. A download that does not match its SHA-256 counts as absent (and
    is logged): the next request fetches it again."""
    settings = request.config_dict[SETTINGS]
    files = exchange_for(request.config_dict[OBJECTS], settings.data_dir)
    try:
        return await files.fetch(path)
    except ExchangeError:
        log.exception("could not fetch %s from the object store", path)
        return False


async def session_folder(request: web.Request, recording: Recording, guid: str,
                         name: str) -> Path:
    """The session's `name` folder (``speech`` or ``media``), fetched when made elsewhere."""
    folder = session_work_dir(request.config_dict[SETTINGS], recording, guid) / name
    await present(request, folder)
    return folder
