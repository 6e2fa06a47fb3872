"""Plain multipart uploads: streamed to a server-named file, hashed on the way, limited.

The client's file name is reduced to a display name (`tus.display_name`) and never
becomes a path. Text fields are few and small (`MAX_FIELDS`, `FIELD_MAX_BYTES`,
`FIELDS_MAX_BYTES`); a file part is written in blocks off the loop, to a file only the
server's user may read. A malformed body (boundary, part headers) is a French 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from aiohttp import BodyPartReader, web

from replay.locale import _
from replay.web.errors import MALFORMED_BODY, api_error
from replay.web.tus import display_filename, format_size

FIELD_MAX_BYTES: Final = 64 << 10
#: Text fields in one form, and their bytes together: the forms here have a handful.
MAX_FIELDS: Final = 32
FIELDS_MAX_BYTES: Final = 256 << 10
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
    return api_error(413, _("File too large: the maximum size is {size}. For large files, use "
                            "the resumable upload (tus) at {path}.").format(
                                size=format_size(limit), path="/api/uploads/"))


async def receive(request: web.Request, *, file_field: str, limit: int,
                  directory: Path | None) -> Received:
    """Read a multipart body; the file goes to `directory` (or memory when None).

    Over `limit` bytes of file: 413, and nothing is kept.
    """
    if request.content_type != "multipart/form-data":
        raise api_error(415, _("Send a {type} form: the file in the field “{field}”.").format(
            type="multipart/form-data", field=file_field))
    if request.content_length is not None and request.content_length > limit + _FRAMING:
        raise too_large(limit)
    received = Received()
    try:
        await _read_parts(request, received, file_field, limit, directory)
    except MALFORMED_BODY:
        received.discard()
        raise malformed() from None
    except BaseException:
        received.discard()
        raise
    return received


def malformed() -> web.HTTPException:
    return api_error(400, _("Unreadable multipart form: send it again from the page or from an "
                            "HTTP client that follows the {type} format.").format(
                                type="multipart/form-data"))


async def _read_parts(request: web.Request, received: Received, file_field: str,
                      limit: int, directory: Path | None) -> None:
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise api_error(400, _("Nested form refused: send plain fields."))
        if part.name == file_field and received.filename == "" and received.data is None:
            received.filename = display_filename(part.filename or _("file"))
            await _read_file(part, received, limit, directory)
        else:
            _check_room_for_field(received)
            received.fields[part.name or ""] = await _read_text(part, _text_left(received))


def _text_left(received: Received) -> int:
    used = sum(len(value.encode()) for value in received.fields.values())
    return min(FIELD_MAX_BYTES, FIELDS_MAX_BYTES - used)


def _check_room_for_field(received: Received) -> None:
    if len(received.fields) >= MAX_FIELDS or _text_left(received) <= 0:
        raise api_error(413, _("Form too heavy: {fields} fields and {kib} KiB of text at most."
                               ).format(fields=MAX_FIELDS, kib=FIELDS_MAX_BYTES >> 10))


async def _read_text(part: BodyPartReader, room: int) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_READ_SIZE):
        data += chunk
        if len(data) > room:
            raise api_error(413, _("Field “{name}” too long: {kib} KiB at most, {form_kib} KiB "
                                   "for the whole form.").format(
                                       name=part.name, kib=FIELD_MAX_BYTES >> 10,
                                       form_kib=FIELDS_MAX_BYTES >> 10))
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise api_error(400, _("Field “{name}” unreadable: send UTF-8 text.").format(
            name=part.name)) from None


async def _read_file(part: BodyPartReader, received: Received, limit: int,
                     directory: Path | None) -> None:
    if directory is None:
        received.data = await _read_in_memory(part, limit)
        received.size = len(received.data)
        received.sha256 = hashlib.sha256(received.data).hexdigest()
        return
    await asyncio.to_thread(directory.mkdir, mode=0o700, parents=True, exist_ok=True)
    received.path = directory / f"{secrets.token_hex(16)}.part"
    out = await asyncio.to_thread(_create_private, received.path)
    try:
        received.size, received.sha256 = await _stream(part, out, limit)
    finally:
        await asyncio.to_thread(out.close)


def _create_private(path: Path) -> BinaryIO:
    """A new file only the server's user may read or write (0600)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


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
