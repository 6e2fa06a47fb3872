"""Plain multipart uploads: streamed to a server-named file, hashed on the way, limited.

The client's file name is reduced to a display name (`tus.display_name`) and never
becomes a path. Text fields are small; a file part is written in blocks off the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from aiohttp import BodyPartReader, web

from replay.web.errors import NBSP, api_error
from replay.web.tus import display_filename, format_size

FIELD_MAX_BYTES: Final = 64 << 10
_READ_SIZE: Final = 1 << 16
_WRITE_SIZE: Final = 1 << 20
#: Room for the multipart framing and the text fields around the file.
_FRAMING: Final = 1 << 20


@dataclass
class Received:
    """What a multipart request carried: text fields and at most one file."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    sha256: str = ""
    filename: str = ""
    size: int = 0
    data: bytes | None = None  # the file's bytes, when asked to keep it in memory

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def too_large(limit: int) -> web.HTTPException:
    return api_error(413, f"Fichier trop volumineux{NBSP}: la taille maximale est de "
                          f"{format_size(limit)}. Pour les gros fichiers, utilisez le "
                          "téléversement reprenable (tus) à /api/uploads/.")


async def receive(request: web.Request, *, file_field: str, limit: int,
                  directory: Path | None) -> Received:
    """Read a multipart body; the file goes to `directory` (or memory when None).

    Over `limit` bytes of file: 413, and nothing is kept.
    """
    if request.content_type != "multipart/form-data":
        raise api_error(415, f"Envoyez un formulaire multipart/form-data{NBSP}: le fichier "
                             f"dans le champ « {file_field} ».")
    if request.content_length is not None and request.content_length > limit + _FRAMING:
        raise too_large(limit)
    received = Received()
    try:
        await _read_parts(request, received, file_field, limit, directory)
    except BaseException:
        received.discard()
        raise
    return received


async def _read_parts(request: web.Request, received: Received, file_field: str,
                      limit: int, directory: Path | None) -> None:
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise api_error(400, f"Formulaire imbriqué refusé{NBSP}: envoyez des champs simples.")
        if part.name == file_field and received.filename == "" and received.data is None:
            received.filename = display_filename(part.filename or "fichier")
            await _read_file(part, received, limit, directory)
        else:
            received.fields[part.name or ""] = await _read_text(part)


async def _read_text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_READ_SIZE):
        data += chunk
        if len(data) > FIELD_MAX_BYTES:
            raise api_error(400, f"Champ « {part.name} » trop long{NBSP}: "
                                 f"{FIELD_MAX_BYTES >> 10}{NBSP}Kio au plus.")
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise api_error(400, f"Champ « {part.name} » illisible{NBSP}: envoyez du texte "
                             "UTF-8.") from None


async def _read_file(part: BodyPartReader, received: Received, limit: int,
                     directory: Path | None) -> None:
    if directory is None:
        received.data = await _read_in_memory(part, limit)
        received.size = len(received.data)
        received.sha256 = hashlib.sha256(received.data).hexdigest()
        return
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    received.path = directory / f"{secrets.token_hex(16)}.part"
    out = await asyncio.to_thread(received.path.open, "xb")
    try:
        received.size, received.sha256 = await _stream(part, out, limit)
    finally:
        await asyncio.to_thread(out.close)


async def _read_in_memory(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_READ_SIZE):
        data += chunk
        if len(data) > limit:
            raise too_large(limit)
    return bytes(data)


async def _stream(part: BodyPartReader, out: BinaryIO, limit: int) -> tuple[int, str]:
    digest, pending, size = hashlib.sha256(), bytearray(), 0
    while chunk := await part.read_chunk(_READ_SIZE):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        digest.update(chunk)
        pending += chunk
        if len(pending) >= _WRITE_SIZE:
            await asyncio.to_thread(out.write, bytes(pending))
            pending.clear()
    await asyncio.to_thread(out.write, bytes(pending))
    await asyncio.to_thread(out.flush)
    return size, digest.hexdigest()
