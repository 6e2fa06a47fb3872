"""The media room with the real ffmpeg 5.1 and ffprobe, on tiny generated media."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from replay.domain.errors import MediaError
from replay.domain.ladder import (
    DEFAULT_LADDER,
    Rung,
    bandwidth,
    choose_ladder,
    is_keyframe,
    with_passthrough,
)
from replay.media.commands import (
    extract_audio_argv,
    m4a_from_hls_argv,
    mp4_from_hls_argv,
    poster_argv,
)
from replay.media.ladder import encode_ladder
from replay.media.probe import MediaInfo, probe
from replay.media.runner import FfmpegFailed, FfmpegTimeout, run_capture, run_ffmpeg
from replay.media.source import probe_source_video

if TYPE_CHECKING:
    from tests.integration.conftest import Media

pytestmark = pytest.mark.slow

SPAN_START, SPAN = 1.0, 10.0
#: A small ladder so that the 640x360 source gets two video rungs and the audio one.
SMALL_LADDER = (*DEFAULT_LADDER, Rung("240p", 426, 240, 400, 64))


async def ffprobe(*args: str) -> dict[str, Any]:
    argv = ["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-of", "json", *args]
    data: dict[str, Any] = json.loads(await run_capture(argv, timeout=30))
    return data


def ffmpeg_children() -> list[int]:
    """Ids of ffmpeg processes that are children of this test process."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        name = fields[0].split("(", 1)[-1]
        if name == "ffmpeg" and int(fields[1].split()[1]) == os.getpid():
            children.append(int(stat.parent.name))
    return children


# -- probe --------------------------------------------------------------------------------


async def test_probe_reads_the_recording(media: Media) -> None:
    info = await probe(media.good)

    assert info.format_name == "mov"
    assert info.duration == pytest.approx(media.duration, abs=0.1)
    assert (info.has_video, info.width, info.height) == (True, media.width, media.height)
    assert info.fps == pytest.approx(media.fps)
    assert (info.video_codec, info.audio_codec, info.sample_rate) == ("h264", "aac", 48000)
    assert info.creation_time == media.creation_time
    assert info.creation_time is not None
    assert info.creation_time.tzinfo is not None
    assert info.display_size == (media.width, media.height)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("video_only", "has no audio track; replay needs the room's sound"),
        ("text", r"not a video or audio file ffmpeg can read"),
        ("truncated", r"or it is truncated \(ffprobe: moov atom not found"),
        ("playlist", "the hls format is not accepted; it is a playlist"),
        ("empty", r"empty \(0 bytes\)"),
    ],
)
async def test_probe_refuses_with_a_clear_reason(media: Media, name: str, reason: str) -> None:
    path: Path = getattr(media, name)

    with pytest.raises(MediaError, match=reason) as caught:
        await probe(path)

    message = str(caught.value)
    assert message.startswith(path.name)
    assert "\n" not in message
    assert str(path.parent) not in message  # no server paths in user-facing errors


async def test_probe_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read the file"):
        await probe(tmp_path / "missing.mp4")


# -- audio --------------------------------------------------------------------------------


async def test_extract_audio_is_16k_mono(media: Media, tmp_path: Path) -> None:
    info = await probe(media.good)
    wav = tmp_path / "audio.wav"

    await run_ffmpeg(extract_audio_argv(media.good, info, wav, threads=2), timeout=60)

    data = await ffprobe("-show_streams", "-show_format", str(wav))
    (stream,) = data["streams"]
    assert data["format"]["format_name"] == "wav"
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == (
        "pcm_s16le",
        "16000",
        1,
    )
    assert float(data["format"]["duration"]) == pytest.approx(media.duration, abs=0.1)


# -- ladder -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderRun:
    out_dir: Path
    rungs: list[Rung]
    fractions: list[float]
    info: MediaInfo


@pytest_asyncio.fixture(scope="module")
async def ladder(media: Media, tmp_path_factory: pytest.TempPathFactory) -> LadderRun:
    info = await probe(media.good)
    rungs = choose_ladder(*info.display_size, ladder=SMALL_LADDER)
    # Every character that means something to the tee muxer's option parser.
    out_dir = tmp_path_factory.mktemp("hls") / "it's [a|b] x:y=z \\ "
    fractions: list[float] = []
    await encode_ladder(media.good, info, start=SPAN_START, duration=SPAN, rungs=rungs,
                        out_dir=out_dir, threads=2, on_progress=fractions.append, timeout=120)
    return LadderRun(out_dir, rungs, fractions, info)


def test_ladder_rungs_for_the_source(ladder: LadderRun) -> None:
    assert [rung.name for rung in ladder.rungs] == ["360p", "240p", "audio"]


def test_progress_increases_to_one(ladder: LadderRun) -> None:
    fractions = ladder.fractions

    assert len(fractions) >= 2
    assert fractions == sorted(set(fractions))
    assert all(0.0 <= fraction <= 1.0 for fraction in fractions)
    assert fractions[-1] == 1.0


def stream_infs(master: str) -> dict[str, dict[str, str]]:
    """``EXT-X-STREAM-INF`` attributes by variant URI."""
    lines = master.splitlines()
    variants = {}
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])
            variants[lines[i + 1]] = {key: value.strip('"') for key, value in attrs}
    return variants


def test_master_playlist_carries_bandwidth_resolution_codecs(ladder: LadderRun) -> None:
    master = (ladder.out_dir / "master.m3u8").read_text()
    variants = stream_infs(master)

    assert list(variants) == [f"{rung.name}/index.m3u8" for rung in ladder.rungs]
    for rung in ladder.rungs:
        attrs = variants[f"{rung.name}/index.m3u8"]
        assert int(attrs["BANDWIDTH"]) == bandwidth(rung)
        if rung.is_audio_only:
            assert "RESOLUTION" not in attrs
            assert attrs["CODECS"] == "mp4a.40.2"
        else:
            assert attrs["RESOLUTION"] == f"{rung.width}x{rung.height}"
            assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", attrs["CODECS"])


async def test_master_playlist_parses_with_ffprobe(ladder: LadderRun) -> None:
    data = await ffprobe("-f", "hls", "-show_streams", str(ladder.out_dir / "master.m3u8"))

    sizes = {(s["width"], s["height"]) for s in data["streams"] if s["codec_type"] == "video"}
    assert sizes == {(r.width, r.height) for r in ladder.rungs if not r.is_audio_only}
    assert any(s["codec_type"] == "audio" for s in data["streams"])


def extinfs(playlist: Path) -> list[float]:
    return [float(m) for m in re.findall(r"#EXTINF:([0-9.]+),", playlist.read_text())]


async def keyframe_times(playlist: Path) -> list[float]:
    data = await ffprobe(
        "-f", "hls", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
        str(playlist),
    )  # fmt: skip
    packets = data["packets"]
    first = min(float(p["pts_time"]) for p in packets)
    return [round(float(p["pts_time"]) - first, 2) for p in packets if "K" in p["flags"]]


async def test_variants_have_aligned_six_second_segments(ladder: LadderRun) -> None:
    for rung in ladder.rungs:
        playlist = ladder.out_dir / rung.name / "index.m3u8"
        assert extinfs(playlist) == pytest.approx([6.0, 4.0], abs=0.05), rung.name
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist.read_text()
        if not rung.is_audio_only:
            assert await keyframe_times(playlist) == [0.0, 6.0], rung.name


async def test_variants_have_the_rung_resolution(ladder: LadderRun) -> None:
    for rung in ladder.rungs:
        data = await ffprobe(
            "-f", "hls", "-show_streams", str(ladder.out_dir / rung.name / "index.m3u8")
        )
        kinds = sorted(s["codec_type"] for s in data["streams"])
        if rung.is_audio_only:
            assert kinds == ["audio"]
        else:
            (video,) = [s for s in data["streams"] if s["codec_type"] == "video"]
            assert (video["width"], video["height"]) == (rung.width, rung.height)
            assert kinds == ["audio", "video"]


async def test_mp4_remux_of_a_rung(ladder: LadderRun, tmp_path: Path) -> None:
    dst = tmp_path / "360p.mp4"

    await run_ffmpeg(mp4_from_hls_argv(ladder.out_dir / "360p" / "index.m3u8", dst), timeout=60)

    info = await probe(dst)
    assert (info.format_name, info.width, info.height) == ("mov", 640, 360)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.duration == pytest.approx(SPAN, abs=0.2)
    head = dst.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart


async def test_m4a_remux_of_the_audio_rung(ladder: LadderRun, tmp_path: Path) -> None:
    dst = tmp_path / "audio.m4a"

    await run_ffmpeg(m4a_from_hls_argv(ladder.out_dir / "audio" / "index.m3u8", dst),
                     timeout=60)

    info = await probe(dst)
    assert (info.format_name, info.has_video, info.audio_codec) == ("mov", False, "aac")
    assert info.duration == pytest.approx(SPAN, abs=0.2)
    head = dst.read_bytes()
    assert head[4:8] == b"ftyp"
    assert head[8:12] == b"M4A "
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart


async def test_poster(media: Media, tmp_path: Path) -> None:
    info = await probe(media.good)
    jpg = tmp_path / "poster.jpg"

    await run_ffmpeg(poster_argv(media.good, info, at=5.0, dst_jpg=jpg, width=320), timeout=30)

    data = await ffprobe("-show_streams", str(jpg))
    (stream,) = data["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 320, 180)
    assert jpg.read_bytes()[:2] == b"\xff\xd8"


# -- runner -------------------------------------------------------------------------------

ENDLESS = [
    "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1",
    "-re", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "null", "-",
]  # fmt: skip


async def test_timeout_kills_ffmpeg_and_raises() -> None:
    began = time.monotonic()

    with pytest.raises(FfmpegTimeout, match="did not finish within 1 s") as caught:
        await run_ffmpeg(ENDLESS, timeout=1)

    assert isinstance(caught.value, MediaError)
    assert time.monotonic() - began < 10
    assert ffmpeg_children() == []


async def test_cancellation_kills_ffmpeg() -> None:
    task = asyncio.create_task(run_ffmpeg(ENDLESS, timeout=60))
    await asyncio.sleep(0.5)
    assert ffmpeg_children() != []

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ffmpeg_children() == []


async def test_failure_raises_with_the_stderr_tail(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-f", "mov", "-protocol_whitelist", "file"]

    with pytest.raises(FfmpegFailed) as caught:
        await run_ffmpeg([*argv, "-i", str(missing), "-f", "null", "-"], timeout=30)

    error = caught.value
    assert isinstance(error, MediaError)
    assert str(error).startswith("ffmpeg failed with exit status 1")
    assert f"{missing}: No such file or directory" in str(error)
    assert any("No such file or directory" in line for line in error.stderr_tail)


async def test_forced_demuxer_refuses_a_disguised_playlist(media: Media) -> None:
    """Even without probing, ``-f mov`` keeps ffmpeg from following the playlist."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-f", "mov", "-protocol_whitelist", "file"]

    with pytest.raises(FfmpegFailed, match=r"moov atom not found|Invalid data"):
        await run_ffmpeg([*argv, "-i", str(media.playlist), "-f", "null", "-"], timeout=30)


# -- ladder with the source passed through as the top rung ---------------------------------

#: A keyframe of the good recording (GOP of 2 s), where a session can start.
KEYFRAME_START = 2.0


@pytest_asyncio.fixture(scope="module")
async def copied_ladder(media: Media, tmp_path_factory: pytest.TempPathFactory) -> LadderRun:
    info = await probe(media.good)
    source = await probe_source_video(media.good, info, [KEYFRAME_START])
    assert is_keyframe(KEYFRAME_START, source.keyframes), source.keyframes
    rungs = with_passthrough(choose_ladder(*info.display_size, ladder=SMALL_LADDER), source)
    assert [(r.name, r.copy_video) for r in rungs] == [
        ("360p", True), ("240p", False), ("audio", False)]
    out_dir = tmp_path_factory.mktemp("hls-copy")
    await encode_ladder(media.good, info, start=KEYFRAME_START, duration=SPAN, rungs=rungs,
                        out_dir=out_dir, threads=2, timeout=120)
    return LadderRun(out_dir, rungs, [], info)


async def test_source_video_details_and_keyframes(media: Media) -> None:
    info = await probe(media.good)

    source = await probe_source_video(media.good, info, [5.0])

    assert (source.codec, source.pix_fmt, source.width, source.height) == (
        "h264", "yuv420p", media.width, media.height)
    assert source.kbps > 0
    assert {4.0, 6.0} <= set(source.keyframes)
    assert source.gop == pytest.approx(2.0)


async def test_every_rung_of_a_copied_ladder_reads_back(copied_ladder: LadderRun) -> None:
    data = await ffprobe("-f", "hls", "-show_streams",
                         str(copied_ladder.out_dir / "master.m3u8"))

    sizes = {(s["width"], s["height"]) for s in data["streams"] if s["codec_type"] == "video"}
    assert sizes == {(640, 360), (426, 240)}
    variants = stream_infs((copied_ladder.out_dir / "master.m3u8").read_text())
    for rung in copied_ladder.rungs:
        attrs = variants[f"{rung.name}/index.m3u8"]
        if not rung.is_audio_only:
            assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", attrs["CODECS"]), attrs
            assert int(attrs["BANDWIDTH"]) == pytest.approx(bandwidth(rung), abs=1100)


async def test_keyframes_and_segments_line_up_across_a_copied_ladder(
    copied_ladder: LadderRun,
) -> None:
    starts = []
    for rung in copied_ladder.rungs:
        playlist = copied_ladder.out_dir / rung.name / "index.m3u8"
        assert extinfs(playlist) == pytest.approx([6.0, 4.0], abs=0.05), rung.name
        first = copied_ladder.out_dir / rung.name / "seg_00000.ts"
        probed = await ffprobe("-show_entries", "format=start_time", str(first))
        starts.append(float(probed["format"]["start_time"]))
        if not rung.is_audio_only:
            assert await keyframe_times(playlist) == [0.0, 2.0, 4.0, 6.0, 8.0], rung.name
    # One clock for every rung: subtitles' X-TIMESTAMP-MAP holds for all of them.
    assert max(starts) - min(starts) < 0.05, starts


async def test_the_copied_rung_is_the_source_bit_for_bit(
    media: Media, copied_ladder: LadderRun
) -> None:
    copied = await ffprobe("-f", "hls", "-select_streams", "v:0", "-show_entries",
                           "packet=size,flags", str(copied_ladder.out_dir / "360p" / "index.m3u8"))
    original = await ffprobe("-select_streams", "v:0", "-read_intervals",
                             f"{KEYFRAME_START}%+#50", "-show_entries", "packet=size,flags",
                             str(media.good))
    pairs = list(zip(copied["packets"][:50], original["packets"][:50], strict=True))
    growth = {int(c["size"]) - int(o["size"]) for c, o in pairs if "K" not in o["flags"]}
    # MPEG-TS adds a 6-byte access unit delimiter to each frame (and the parameter sets to
    # keyframes); an encoder would change every frame's size.
    assert growth == {6}
    assert [("K" in c["flags"]) for c, _ in pairs] == [("K" in o["flags"]) for _, o in pairs]
