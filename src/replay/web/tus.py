"""The server side of tus 1.0.0 resumable uploads, as an aiohttp sub-application.

Extensions: creation, checksum (sha1), termination, expiration. Mount it with
``app.add_subapp("/uploads/tus/", create_tus_app(store, max_size=...))``; the client's
endpoint is then ``/uploads/tus/`` and each upload lives at ``/uploads/tus/<id>``.

Every PATCH streams to disk in blocks (memory stays flat whatever the file size), never
past the declared length; a chunk whose ``Upload-Checksum`` does not match is discarded.
Once the last byte is in, the whole file's SHA-256 is compared with the ``sha256``
metadata the client declared, then ``on_complete`` receives the upload. Error messages
are short French sentences: users read them in the browser.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import formatdate
from typing import TYPE_CHECKING, Final, NamedTuple

from aiohttp import web
from aiohttp.http_exceptions import PayloadEncodingError

from replay.locale import N_, _
from replay.web.uploads_store import (
    ChunkWriter,
    Upload,
    UploadBusy,
    UploadNotFound,
    UploadStore,
)

if TYPE_CHECKING:
    from hashlib import _Hash

log = logging.getLogger(__name__)

TUS_VERSION: Final = "1.0.0"
EXTENSIONS: Final = "creation,checksum,termination,expiration"
OFFSET_CONTENT_TYPE: Final = "application/offset+octet-stream"
CHECKSUM_MISMATCH: Final = 460
NBSP: Final = "\u00a0"

_READ_SIZE = 1 << 16  # what one read from the socket may return
_WRITE_SIZE = 1 << 20  # bytes gathered before one write to disk
_DIGITS = re.compile(r"[0-9]{1,19}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_METADATA_KEY = re.compile(r"[!-~]+")  # printable ASCII, no space; commas are split off

Authorize = Callable[[web.Request], Awaitable[None]]
OnComplete = Callable[[Upload], Awaitable[None]]
#: Who is asking, as the owner recorded on the uploads they create ("" for anyone).
Identify = Callable[[web.Request], str]
#: May this request create an upload of this many bytes? Refuses by raising.
Admit = Callable[[web.Request, int], Awaitable[None]]


# --- Pure parts: headers in, values or a French message out ----------------------------


class Checksum(NamedTuple):
    algorithm: str
    digest: bytes


def parse_length(value: str | None) -> int:
    """A non-negative decimal header value, as tus has them (no sign, no spaces)."""
    if value is None or _DIGITS.fullmatch(value) is None:
        raise ValueError
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs, the value optional."""
    if header is None or not header.strip():
        return {}
    metadata: dict[str, str] = {}
    for pair in header.split(","):
        key, _space, encoded = pair.strip().partition(" ")
        if _METADATA_KEY.fullmatch(key) is None or key in metadata or " " in encoded:
            raise ValueError(_("Upload-Metadata header invalid: key “{key}”.").format(key=key))
        metadata[key] = _decode_value(key, encoded)
    return metadata


def _decode_value(key: str, encoded: str) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(
            _("Upload-Metadata header invalid: the value of “{key}” is not UTF-8 Base64.").format(
                key=key)
        ) from None


def encode_metadata(metadata: Mapping[str, str]) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode('ascii')}".rstrip()
        for key, value in metadata.items()
    )


def parse_checksum(header: str | None) -> Checksum | None:
    """``Upload-Checksum: sha1 <base64 digest>``; `ValueError` for anything else."""
    if header is None:
        return None
    algorithm, _space, encoded = header.strip().partition(" ")
    if algorithm != "sha1":
        raise ValueError(_("Checksum algorithm not supported: only sha1 is."))
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != hashlib.sha1().digest_size:
        raise ValueError(_("Upload-Checksum header invalid: a sha1 digest is expected."))
    return Checksum(algorithm, digest)


def display_filename(name: str) -> str:
    """The last component of a client's file name, without control characters: for display."""
    last = re.split(r"[/\\]", name)[-1]
    cleaned = "".join(c for c in last if c.isprintable()).strip()
    return cleaned[:255] or _("file")


def check_metadata(metadata: Mapping[str, str], required: tuple[str, ...]) -> dict[str, str]:
    """The metadata the app relies on, checked; the file name reduced to a display name."""
    for key in required:
        if not metadata.get(key, "").strip():
            raise ValueError(_("Metadata missing: “{key}”.").format(key=key))
    checked = dict(metadata)
    if "filename" in checked:
        checked["filename"] = display_filename(checked["filename"])
    if "sha256" in checked:
        checked["sha256"] = checked["sha256"].strip().lower()
        if _SHA256_HEX.fullmatch(checked["sha256"]) is None:
            raise ValueError(_("Metadata “sha256” invalid: 64 hexadecimal digits expected."))
    if "started_at" in checked:
        try:
            datetime.fromisoformat(checked["started_at"])
        except ValueError:
            raise ValueError(
                _("Metadata “started_at” invalid: an ISO 8601 date is expected.")
            ) from None
    return checked


def format_size(size: int) -> str:
    """``21474836480`` → ``"21 474 836 480 octets"``, with narrow non-breaking spaces."""
    return f"{size:,}".replace(",", "\u202f") + NBSP + _("bytes")


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


# --- Errors ------------------------------------------------------------------------------


class HTTPChecksumMismatch(web.HTTPClientError):
    status_code = CHECKSUM_MISMATCH


class HTTPLocked(web.HTTPClientError):
    status_code = 423


class HTTPContentTooLarge(web.HTTPClientError):
    status_code = 413  # aiohttp's own wants the sizes as arguments


def _fail(error: type[web.HTTPException], message: str) -> web.HTTPException:
    return error(text=message, headers={"Tus-Resumable": TUS_VERSION})


NOT_FOUND: Final = N_("Upload not found.")
GONE: Final = N_("This upload has expired: start sending the file again.")
BUSY: Final = N_("A transfer is already running for this upload.")
TOO_LONG: Final = N_("The data sent exceed the announced size of the file.")
BAD_CHUNK: Final = N_("Wrong checksum: this piece is rejected, send it again.")
BAD_FILE: Final = N_(
    "The SHA-256 digest of the file received does not match: the upload is cancelled, "
    "start sending again."
)
HANDOVER_FAILED: Final = N_("The file arrived but could not be saved: try sending it again.")


# --- The application ---------------------------------------------------------------------


@dataclass(frozen=True)
class TusConfig:
    max_size: int
    expiry_seconds: float
    authorize: Authorize | None
    on_complete: OnComplete | None
    required_metadata: tuple[str, ...]
    clock: Callable[[], float]
    identify: Identify | None = None
    admit: Admit | None = None


TUS_STORE: Final = web.AppKey("tus_store", UploadStore)
TUS_CONFIG: Final = web.AppKey("tus_config", TusConfig)
#: upload id -> (committed offset, SHA-256 of the bytes up to it), for uploads this process
#: received from the start: the last PATCH then need not read the whole file back.
_RUNNING: Final[web.AppKey[dict[str, tuple[int, _Hash]]]] = web.AppKey("tus_running_hashes")
#: Held while an upload is admitted and created: two creations cannot both take the last
#: room the admission allows.
_CREATING: Final = web.AppKey("tus_creating", asyncio.Lock)


def create_tus_app(
    store: UploadStore,
    *,
    max_size: int,
    expiry_seconds: float = 24 * 3600,
    authorize: Authorize | None = None,
    on_complete: OnComplete | None = None,
    required_metadata: tuple[str, ...] = ("event", "room"),
    purge_interval: float | None = 600,
    clock: Callable[[], float] = time.time,
    identify: Identify | None = None,
    admit: Admit | None = None,
) -> web.Application:
    """The tus sub-application over `store`; see the module's documentation.

    `on_complete` receives each upload once its whole file checked out; it may move the
    data file (``upload.path``) away. If it raises, the client gets a 500 and its retry of
    the last chunk hands the upload over again: it should be idempotent. `authorize` runs
    before every request but OPTIONS and refuses by raising (``web.HTTPUnauthorized``).
    Expired uploads are purged every `purge_interval` seconds while the app runs.
    `identify` names who is asking: each upload records its creator, and anyone else gets
    404 for it, as if it did not exist. `admit` may refuse a creation (quotas, free space)
    by raising; it runs under a lock, so admissions never race.
    """
    app = web.Application(middlewares=[_tus_middleware])
    app[TUS_STORE] = store
    app[TUS_CONFIG] = TusConfig(
        max_size, expiry_seconds, authorize, on_complete, required_metadata, clock,
        identify, admit,
    )
    app[_RUNNING] = {}
    app[_CREATING] = asyncio.Lock()
    app.router.add_route("OPTIONS", "/", _options)
    app.router.add_route("POST", "/", _create)
    upload = app.router.add_resource("/{upload_id}", name="tus-upload")
    upload.add_route("OPTIONS", _options)
    upload.add_route("HEAD", _head)
    upload.add_route("PATCH", _patch)
    upload.add_route("DELETE", _delete)
    if purge_interval is not None:
        app.cleanup_ctx.append(_purger(purge_interval))
    return app


async def purge_expired(app: web.Application) -> list[str]:
    """Remove the tus app's expired uploads; the ids removed."""
    removed = await app[TUS_STORE].purge_expired(app[TUS_CONFIG].clock())
    for upload_id in removed:
        app[_RUNNING].pop(upload_id, None)
    return removed


def _purger(interval: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def purger(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await purge_expired(app)
                except Exception:  # the next round may succeed: keep purging
                    log.exception("purging expired uploads failed")
                await asyncio.sleep(interval)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return purger


@web.middleware
async def _tus_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        if request.method != "OPTIONS":
            await _preflight(request)
        response = await handler(request)
    except web.HTTPException as error:
        error.headers.setdefault("Tus-Resumable", TUS_VERSION)
        raise
    response.headers["Tus-Resumable"] = TUS_VERSION
    return response


async def _preflight(request: web.Request) -> None:
    authorize = request.app[TUS_CONFIG].authorize
    if authorize is not None:
        await authorize(request)
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise web.HTTPPreconditionFailed(
            text=_("tus protocol version not supported: 1.0.0 expected."),
            headers={"Tus-Version": TUS_VERSION},
        )


async def _options(request: web.Request) -> web.Response:
    return web.Response(
        status=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(request.app[TUS_CONFIG].max_size),
            "Tus-Checksum-Algorithm": "sha1",
        },
    )


async def _create(request: web.Request) -> web.Response:
    config = request.app[TUS_CONFIG]
    length = _declared_length(request, config.max_size)
    try:
        metadata = check_metadata(
            parse_metadata(request.headers.get("Upload-Metadata")), config.required_metadata
        )
    except ValueError as error:
        raise _fail(web.HTTPBadRequest, str(error)) from None
    async with request.app[_CREATING]:
        if config.admit is not None:
            await config.admit(request, length)
        now = config.clock()
        upload = await request.app[TUS_STORE].create(
            length, metadata, now=now, expires=now + config.expiry_seconds,
            owner=_asker(request),
        )
    location = request.app.router["tus-upload"].url_for(upload_id=upload.id)
    return web.Response(
        status=201,
        headers={"Location": str(location), "Upload-Expires": http_date(upload.expires)},
    )


def _declared_length(request: web.Request, max_size: int) -> int:
    if "Upload-Defer-Length" in request.headers:
        raise _fail(web.HTTPBadRequest, _("Deferred length is not supported."))
    try:
        length = parse_length(request.headers.get("Upload-Length"))
    except ValueError:
        raise _fail(web.HTTPBadRequest, _("Upload-Length header missing or invalid.")) from None
    if length == 0:
        raise _fail(web.HTTPBadRequest, _("The file is empty."))
    if length > max_size:
        raise _fail(
            HTTPContentTooLarge,
            _("File too large: the maximum size is {size}.").format(size=format_size(max_size)),
        )
    return length


async def _head(request: web.Request) -> web.Response:
    upload = await _current(request)
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Upload-Expires": http_date(upload.expires),
        "Cache-Control": "no-store",
    }
    if upload.metadata:
        headers["Upload-Metadata"] = encode_metadata(upload.metadata)
    return web.Response(status=200, headers=headers)


async def _current(request: web.Request) -> Upload:
    try:
        upload = await request.app[TUS_STORE].get(request.match_info["upload_id"])
    except UploadNotFound:
        raise _fail(web.HTTPNotFound, _(NOT_FOUND)) from None
    _check_alive(request, upload)
    return upload


def _asker(request: web.Request) -> str:
    identify = request.app[TUS_CONFIG].identify
    return "" if identify is None else identify(request)


def _check_alive(request: web.Request, upload: Upload) -> None:
    """404 for anyone but the upload's owner (the same answer as for no upload at all);
    410 once it expired."""
    if upload.owner != _asker(request):
        raise _fail(web.HTTPNotFound, _(NOT_FOUND))
    if upload.expires <= request.app[TUS_CONFIG].clock():
        raise _fail(web.HTTPGone, _(GONE))


async def _delete(request: web.Request) -> web.Response:
    store = request.app[TUS_STORE]
    async with _locked(request) as upload:
        await store.remove(upload.id)
        request.app[_RUNNING].pop(upload.id, None)
    return web.Response(status=204)


@contextlib.asynccontextmanager
async def _locked(request: web.Request) -> AsyncIterator[Upload]:
    await _current(request)  # 404 to anyone but the owner, before telling it is busy
    try:
        async with request.app[TUS_STORE].locked(request.match_info["upload_id"]) as upload:
            _check_alive(request, upload)
            yield upload
    except UploadNotFound:
        raise _fail(web.HTTPNotFound, _(NOT_FOUND)) from None
    except UploadBusy:
        raise _fail(HTTPLocked, _(BUSY)) from None


async def _patch(request: web.Request) -> web.Response:
    if request.content_type != OFFSET_CONTENT_TYPE:
        raise _fail(
            web.HTTPUnsupportedMediaType,
            _("Wrong content type: “{expected}” expected.").format(expected=OFFSET_CONTENT_TYPE),
        )
    offset, checksum = _patch_headers(request)
    async with _locked(request) as upload:
        if offset != upload.offset:
            raise _fail(
                web.HTTPConflict,
                _("Wrong offset: the server expects byte {offset}.").format(offset=upload.offset),
            )
        if upload.offset + (request.content_length or 0) > upload.length:
            raise _fail(HTTPContentTooLarge, _(TOO_LONG))
        if not upload.complete:  # a complete upload is handed over once, whatever comes
            upload = await _receive(request, upload, checksum)
    return web.Response(
        status=204,
        headers={"Upload-Offset": str(upload.offset), "Upload-Expires": http_date(upload.expires)},
    )


def _patch_headers(request: web.Request) -> tuple[int, Checksum | None]:
    try:
        offset = parse_length(request.headers.get("Upload-Offset"))
    except ValueError:
        raise _fail(web.HTTPBadRequest, _("Upload-Offset header missing or invalid.")) from None
    try:
        return offset, parse_checksum(request.headers.get("Upload-Checksum"))
    except ValueError as error:
        raise _fail(web.HTTPBadRequest, str(error)) from None


class _Body(NamedTuple):
    sha1: _Hash
    dropped: bool  # the connection ended before the body did
    cancelled: bool  # and the handler was cancelled: re-raise once the bytes are saved


async def _receive(request: web.Request, upload: Upload, checksum: Checksum | None) -> Upload:
    """Copy the body at the upload's offset; commit it, or roll it back and refuse."""
    store, config = request.app[TUS_STORE], request.app[TUS_CONFIG]
    writer = await store.open_writer(upload, _running_hash(request.app, upload))
    try:
        body = await _copy_body(request, writer, upload.length - upload.offset)
        refusal = _refusal(body, checksum)
        if refusal is not None:
            raise refusal
        await asyncio.to_thread(writer.sync)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(writer.rollback))
        raise
    finally:
        await asyncio.shield(asyncio.to_thread(writer.close))
    done = replace(
        upload,
        offset=upload.offset + writer.written,
        expires=config.clock() + config.expiry_seconds,
    )
    upload = await asyncio.shield(_commit(request, done, writer.running))
    if body.cancelled:
        raise asyncio.CancelledError
    return upload


def _refusal(body: _Body, checksum: Checksum | None) -> BaseException | None:
    """Without a checksum, what came in whole is kept; with one, the chunk must be whole."""
    if checksum is None or (not body.dropped and body.sha1.digest() == checksum.digest):
        return None
    if body.cancelled:
        return asyncio.CancelledError()
    return _fail(HTTPChecksumMismatch, _(BAD_CHUNK))


def _running_hash(app: web.Application, upload: Upload) -> _Hash | None:
    if upload.offset == 0:
        return hashlib.sha256()
    offset, running = app[_RUNNING].get(upload.id, (-1, None))
    return running.copy() if offset == upload.offset and running is not None else None


async def _copy_body(request: web.Request, writer: ChunkWriter, capacity: int) -> _Body:
    """Stream the body to `writer` in blocks, never more than `capacity` bytes in all.

    A connection that ends early (an error from the stream, or the handler cancelled, as
    aiohttp does with ``handler_cancellation``) ends the body: what came in is written.
    """
    sha1, pending, dropped, cancelled = hashlib.sha1(), bytearray(), False, False
    try:
        async for chunk in request.content.iter_chunked(_READ_SIZE):
            if writer.written + len(pending) + len(chunk) > capacity:
                raise _fail(HTTPContentTooLarge, _(TOO_LONG))
            sha1.update(chunk)
            pending += chunk
            if len(pending) >= _WRITE_SIZE:
                await _flush(writer, pending)
    except (ConnectionError, PayloadEncodingError):
        dropped = True
    except asyncio.CancelledError:
        dropped = cancelled = True
    await asyncio.shield(_flush(writer, pending))
    return _Body(sha1, dropped, cancelled)


async def _flush(writer: ChunkWriter, pending: bytearray) -> None:
    if pending:
        block = bytes(pending)
        pending.clear()
        await asyncio.to_thread(writer.write, block)


async def _commit(request: web.Request, upload: Upload, running: _Hash | None) -> Upload:
    """Save the new offset; at the end, check the whole file and hand it over."""
    store, config, hashes = request.app[TUS_STORE], request.app[TUS_CONFIG], request.app[_RUNNING]
    if upload.offset < upload.length:
        await store.save(upload)
        if running is not None:
            hashes[upload.id] = (upload.offset, running)
        return upload
    hashes.pop(upload.id, None)
    digest = running.hexdigest() if running is not None else await store.sha256(upload)
    if upload.expected_sha256 not in {None, digest}:
        await store.remove(upload.id)
        raise _fail(HTTPChecksumMismatch, _(BAD_FILE))
    upload = replace(upload, complete=True, sha256=digest)
    if config.on_complete is not None:
        await _hand_over(config.on_complete, upload)
    await store.save(upload)  # complete once handed over: a failed hand-over is retried
    return upload


async def _hand_over(on_complete: OnComplete, upload: Upload) -> None:
    try:
        await on_complete(upload)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("handing over upload %s failed", upload.id)
        raise _fail(web.HTTPInternalServerError, _(HANDOVER_FAILED)) from None
