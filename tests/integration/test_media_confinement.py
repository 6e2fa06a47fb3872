"""ffmpeg and ffprobe as the runner starts them: they die with the process that started
them (even under SIGKILL), get resource limits and an environment without credentials;
ffprobe is bounded in what it reads and in the streams it accepts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from replay.domain.errors import MediaError
from replay.media.probe import (
    ANALYZE_MICROSECONDS,
    MAX_STREAMS,
    PROBE_BYTES,
    probe,
    probe_argv,
)
from replay.media.runner import MEMORY_LIMIT_BYTES, run_capture

PARENT = """
import asyncio, sys
from replay.media.runner import run_ffmpeg
argv = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i",
        "testsrc2=size=64x36:rate=5", "-f", "null", "-"]
asyncio.run(run_ffmpeg(argv, timeout=600))
"""


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its new parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` until it holds (True) or `seconds` ran out (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_ffmpeg_dies_with_a_parent_killed_by_sigkill() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    ffmpeg: list[int] = []
    try:
        assert wait_for(lambda: bool(children(parent.pid)), 30), "ffmpeg did not start"
        ffmpeg = children(parent.pid)
        assert len(ffmpeg) == 1
        assert running(ffmpeg[0])
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_for(lambda: not running(ffmpeg[0]), 5), "ffmpeg outlived its parent"
    finally:
        parent.kill()
        parent.wait(timeout=10)
        for pid in ffmpeg:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


async def test_children_get_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("REPLAY_S3_ENDPOINT_URL", "http://127.0.0.1:9/")
    output = (await run_capture(["env"], timeout=10)).decode()
    names = {line.partition("=")[0] for line in output.splitlines()}
    assert names == {"PATH", "LC_ALL"}


async def test_children_run_under_resource_limits() -> None:
    limits = (await run_capture(["cat", "/proc/self/limits"], timeout=10)).decode()
    rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
    assert rows["Max address space"][:2] == [str(MEMORY_LIMIT_BYTES)] * 2
    assert rows["Max core file size"][:2] == ["0", "0"]
    assert rows["Max cpu time"][0] != "unlimited"


def test_ffprobe_reads_a_bounded_prefix_and_few_streams(tmp_path: Path) -> None:
    argv = probe_argv(tmp_path / "x.mp4")
    assert argv[argv.index("-probesize") + 1] == str(PROBE_BYTES)
    assert argv[argv.index("-analyzeduration") + 1] == str(ANALYZE_MICROSECONDS)
    assert argv[argv.index("-max_streams") + 1] == str(MAX_STREAMS)


async def test_a_file_with_too_many_streams_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pistes.mkv"
    maps = [arg for _ in range(MAX_STREAMS + 1) for arg in ("-map", "1")]
    await run_capture(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                       "testsrc2=size=64x36:rate=5:duration=1", "-f", "lavfi", "-i",
                       "sine=duration=1", "-map", "0", *maps, "-c:v", "libx264", "-preset",
                       "ultrafast", "-c:a", "pcm_s16le", str(path)], timeout=60)
    with pytest.raises(MediaError, match=f"more than {MAX_STREAMS} streams"):
        await probe(path)


HELD_IMPORT_LOCK = """
import _imp, asyncio, threading
from replay.media.runner import run_capture
held = threading.Event()
def hold():
    _imp.acquire_lock()  # as a thread importing a module does, for as long as it takes
    held.set()
    threading.Event().wait()
threading.Thread(target=hold, daemon=True).start()
held.wait()
print(asyncio.run(run_capture(["echo", "started"], timeout=10)).decode().strip())
"""


def test_starting_a_child_waits_for_no_other_thread() -> None:
    """Another thread holding the import lock (or any lock a fork handler takes) must not
    stop the server from starting ffmpeg: nothing runs in the child between fork and
    exec. With a Python preexec function, the fork waited for that lock for ever."""
    done = subprocess.run([sys.executable, "-c", HELD_IMPORT_LOCK], capture_output=True,
                          timeout=60, check=True)
    assert done.stdout.decode().strip() == "started"


async def test_a_missing_program_is_said_missing() -> None:
    with pytest.raises(FileNotFoundError, match="ffmpeg-absent"):
        await run_capture(["ffmpeg-absent", "-version"], timeout=10)
