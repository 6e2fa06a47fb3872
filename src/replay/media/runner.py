"""The one place ffmpeg and ffprobe run: argv in, no shell, bounded time.

The process is killed (and reaped) on timeout and on cancellation. Progress
comes from ``-progress pipe:1`` key=value lines on stdout; stderr is kept as a
short tail for the error message.

The functions take a ``timeout`` (ruff's ASYNC109 is silenced for it on
purpose): on expiry the child is killed and reaped and the error carries
ffmpeg's last words, which a caller's ``asyncio.timeout`` could not give.
Cancelling from outside is safe too: the child is killed and reaped.

Children are confined (`confined_argv`): util-linux's ``setpriv`` asks the kernel to kill
them when the thread that started them dies (``PR_SET_PDEATHSIG``), so a server killed
with SIGKILL leaves no ffmpeg behind, and ``prlimit`` gives them resource limits (address
space, CPU seconds, no core dumps); each execs the next, so ffmpeg keeps the PID the
server started. Their environment holds only ``PATH`` and the locale, never the server's
credentials (``AWS_*``, ``REPLAY_*``...).

Nothing runs in the child between fork and exec: a Python ``preexec_fn`` makes the fork
wait for the interpreter's import lock and run every library's fork handlers, and in a
server whose other threads run Whisper it hung the event loop's thread in the fork.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import re
import shlex
import shutil
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from replay.domain.errors import MediaError

log = logging.getLogger(__name__)

#: How many stderr lines are kept for the error message.
STDERR_TAIL_LINES = 40
_CHUNK = 65536
#: Most bytes a program may print on stdout for `run_capture` (ffprobe's JSON is small).
CAPTURE_MAX_BYTES = 16 << 20
#: Address space a child may map: several times what a 1080p ladder transcode maps (its
#: threads' stacks and malloc arenas included), a third of the 24 GiB machine.
MEMORY_LIMIT_BYTES = 8 << 30


@dataclass(frozen=True, slots=True)
class ChildLimits:
    """What a child may use: address space, CPU seconds (None: no limit)."""

    memory_bytes: int | None = MEMORY_LIMIT_BYTES
    cpu_seconds: int | None = None

    @classmethod
    def for_timeout(cls, timeout: float) -> ChildLimits:
        """CPU time that every core busy for the whole `timeout` could not exceed: the
        wall-clock timeout stops a stuck child first, this one a runaway that escaped it."""
        cores = os.cpu_count() or 1
        return cls(cpu_seconds=math.ceil(timeout * cores) + 60)


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of ffmpeg and ffprobe: the search path and a fixed locale only."""
    source = os.environ if environ is None else environ
    return {"PATH": source.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"}


def confined_argv(argv: Sequence[str], limits: ChildLimits) -> list[str]:
    """`argv` behind ``setpriv`` (killed with the starting thread) and ``prlimit``."""
    prefix = ["setpriv", "--pdeathsig", "KILL", "--", "prlimit", "--core=0"]
    if limits.memory_bytes is not None:
        prefix.append(f"--as={limits.memory_bytes}")
    if limits.cpu_seconds is not None:
        prefix.append(f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}")
    return [*prefix, "--", *argv]


class FfmpegFailed(MediaError):
    """ffmpeg or ffprobe exited with a non-zero status (or was stopped).

    The message's first line says what happened; the following lines are the
    tail of the program's stderr, also kept in :attr:`stderr_tail`.
    """

    def __init__(self, summary: str, argv: Sequence[str], stderr_tail: Sequence[str]) -> None:
        self.summary = summary
        self.argv = tuple(redacted(arg) for arg in argv)
        self.stderr_tail = tuple(redacted(line) for line in stderr_tail)
        details = "\n".join(f"  {line}" for line in self.stderr_tail)
        super().__init__(f"{summary}\n{details}" if details else summary)


class FfmpegTimeout(FfmpegFailed):
    """The program ran past its time limit and was killed."""


_URL_QUERY = re.compile(r"(https?://[^\s?#]*)\?[^\s#]*?(?=:?(?:\s|#|$))", re.IGNORECASE)


def redacted(text: str) -> str:
    """`text` with the query of every HTTP(S) address cut off: a presigned URL's signature
    (`probe.StoreUrl`) stays out of logs and of the errors organisers read."""
    return _URL_QUERY.sub(r"\1?…", text)


def _program(argv: Sequence[str]) -> str:
    return argv[0].rsplit("/", 1)[-1] if argv else "?"


@dataclass
class _Progress:
    """Turns ``-progress`` lines into increasing fractions of ``expected``."""

    expected: float | None
    callback: Callable[[float], None] | None
    last: float = field(default=-1.0)

    def feed(self, line: str) -> None:
        key, _, value = line.partition("=")
        if key == "progress" and value.strip() == "end":
            self._report(1.0)
        elif key in ("out_time_us", "out_time_ms") and self.expected:
            # ffmpeg writes microseconds under both keys (out_time_ms is misnamed).
            with contextlib.suppress(ValueError):
                seconds = int(value) / 1_000_000
                self._report(min(max(seconds / self.expected, 0.0), 1.0))

    def _report(self, fraction: float) -> None:
        if self.callback is not None and fraction > self.last:
            self.last = fraction
            self.callback(fraction)


async def _lines(stream: asyncio.StreamReader | None) -> AsyncIterator[str]:
    """Lines of a stream, split on newlines or carriage returns, of any length."""
    if stream is None:
        return
    pending = b""
    while chunk := await stream.read(_CHUNK):
        *complete, pending = (pending + chunk).replace(b"\r", b"\n").split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", "replace")
        pending = pending[-_CHUNK:]
    if pending:
        yield pending.decode("utf-8", "replace")


async def _collect_tail(stream: asyncio.StreamReader | None, tail: deque[str],
                        on_line: Callable[[str], None] | None = None) -> None:
    async for line in _lines(stream):
        if line.strip():
            tail.append(line.rstrip())
            if on_line is not None:
                on_line(line.rstrip())


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Kill the process if it still runs, and wait for it (no zombies)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())


_Consumer = Callable[[asyncio.StreamReader | None], Awaitable[None]]


async def _supervise(proc: asyncio.subprocess.Process, consume: _Consumer, tail: deque[str],
                    on_stderr: Callable[[str], None] | None = None) -> int:
    stderr_task = asyncio.create_task(_collect_tail(proc.stderr, tail, on_stderr))
    try:
        await consume(proc.stdout)
        await stderr_task
        return await proc.wait()
    finally:
        stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stderr_task


async def _run(argv: Sequence[str], *, limit: float, consume: _Consumer,
               on_stderr: Callable[[str], None] | None = None) -> None:
    if not argv:
        raise ValueError("empty argv")
    log.debug("run: %s", redacted(shlex.join(argv)))
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    environment = child_environment()
    if shutil.which(argv[0], path=environment["PATH"]) is None:  # as exec would say
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    proc = await asyncio.create_subprocess_exec(
        *confined_argv(argv, ChildLimits.for_timeout(limit)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    try:
        async with asyncio.timeout(limit):
            returncode = await _supervise(proc, consume, tail, on_stderr)
    except TimeoutError:
        summary = f"{_program(argv)} did not finish within {limit:g} s and was stopped"
        raise FfmpegTimeout(summary, argv, tail) from None
    finally:
        await _reap(proc)
    if returncode != 0:
        summary = f"{_program(argv)} failed with exit status {returncode}"
        raise FfmpegFailed(summary, argv, tail)


async def run_ffmpeg(
    argv: Sequence[str],
    *,
    expected_duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    timeout: float,  # noqa: ASYNC109 - kills the process and reports stderr; see module doc
) -> None:
    """Run ffmpeg; report progress as increasing fractions in 0..1, ending with 1.0.

    Fractions need ``-progress pipe:1`` in ``argv`` and an ``expected_duration``
    (seconds of output); ``progress=end`` always reports 1.0. Raises
    :class:`FfmpegTimeout` after ``timeout`` seconds and :class:`FfmpegFailed`
    on a non-zero exit, both with the tail of stderr. The process is killed and
    reaped on timeout and on cancellation.
    """
    progress = _Progress(expected_duration, on_progress)

    async def consume(stream: asyncio.StreamReader | None) -> None:
        async for line in _lines(stream):
            progress.feed(line.strip())

    await _run(argv, limit=timeout, consume=consume)


async def run_capture(argv: Sequence[str], *, timeout: float) -> bytes:  # noqa: ASYNC109
    """Run a program (ffprobe) and return its stdout; errors as in :func:`run_ffmpeg`."""
    sink = bytearray()

    async def consume(stream: asyncio.StreamReader | None) -> None:
        if stream is not None:
            while chunk := await stream.read(_CHUNK):
                sink.extend(chunk)
                if len(sink) > CAPTURE_MAX_BYTES:
                    raise FfmpegFailed(f"{_program(argv)} printed more than "
                                       f"{CAPTURE_MAX_BYTES >> 20} MiB and was stopped",
                                       argv, ())

    await _run(argv, limit=timeout, consume=consume)
    return bytes(sink)


async def run_ffmpeg_streaming(
    argv: Sequence[str],
    *,
    on_output: Callable[[bytes], Awaitable[None]],
    on_stderr: Callable[[str], None] | None = None,
    timeout: float,  # noqa: ASYNC109 - as run_ffmpeg
) -> None:
    """Run a long ffmpeg (a live take) that writes data on stdout: each chunk read is
    awaited through `on_output` (so a slow consumer slows the reading, never memory),
    each stderr line goes to `on_stderr`. Errors, timeout and cancellation as in
    :func:`run_ffmpeg`."""

    async def consume(stream: asyncio.StreamReader | None) -> None:
        if stream is not None:
            while chunk := await stream.read(_CHUNK):
                await on_output(chunk)

    await _run(argv, limit=timeout, consume=consume, on_stderr=on_stderr)
