"""What a recording is, from ffprobe, and whether replay can process it.

ffmpeg detects formats by content, and some demuxers read other files (HLS and
DASH playlists, concat lists, image sequences). ffprobe only gets to choose
among real container formats (``-format_whitelist``), and the probed demuxer
is then forced (``-f``) on every later ffmpeg input.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from replay.domain.errors import N_, MediaError
from replay.media.runner import FfmpegFailed, FfmpegTimeout, run_capture

#: Demuxers accepted, by the name ``-f`` takes: real containers that read only
#: the file they are given.
DEMUXERS: frozenset[str] = frozenset(
    {
        "mov",  # mov,mp4,m4a,3gp,3g2,mj2
        "matroska",  # matroska,webm
        "mpegts",
        "mpeg",
        "avi",
        "flv",
        "asf",
        "mxf",
        "ogg",
        "wav",
        "w64",
        "mp3",
        "flac",
        "aac",
    }
)

#: Largest accepted picture: 8192 pixels a side, 8K UHD (8192x4320) in area.
MAX_SIDE = 8192
MAX_PIXELS = 8192 * 4320

#: What ffprobe may read and analyse to find the streams, and how many streams a
#: recording may have (a camera, a mixer and a few language tracks, not thousands).
PROBE_BYTES = 10_000_000
ANALYZE_MICROSECONDS = 10_000_000
MAX_STREAMS = 32

#: Container creation times before this are unset fields (1904/1970 epochs).
_EARLIEST_CREATION = datetime(1980, 1, 1, tzinfo=UTC)

_NOT_WHITELISTED = re.compile(r"\[([\w,]+) @ [0-9a-fx]+\] Format not on whitelist")
_TOO_MANY_STREAMS = "exceeds max_streams"
_LOG_TAG = re.compile(r"^\[[^\]]+ @ [0-9a-fx]+\] ")

#: The value of a refusal that names the file (`refused`): a face may show another name
#: for it (`naming`), the upload's display name instead of the server's path.
SOURCE: Final = "source"


def refused(source: str, problem: str, /, **values: object) -> MediaError:
    """``source: problem``, the file's name kept as a value of the error; `problem` an
    English message (marked ``N_``) with its `values`."""
    return MediaError(N_("{source}: {problem}"), **{SOURCE: source},
                      problem=MediaError(problem, **values))


def naming(error: MediaError, name: str) -> MediaError:
    """`error` with its file named `name` (unchanged if it names no file)."""
    if SOURCE not in error.values:
        return error
    return MediaError(error.msgid, **{**error.values, SOURCE: name})


@dataclass(frozen=True)
class MediaInfo:
    """A probed recording. ``width``/``height`` are stored sizes (0 without video)."""

    format_name: str
    duration: float
    has_video: bool
    width: int
    height: int
    fps: float
    video_codec: str
    has_audio: bool
    audio_codec: str
    sample_rate: int
    creation_time: datetime | None
    sample_aspect: Fraction = Fraction(1)
    rotation: int = 0

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: sample aspect ratio and rotation applied."""
        width = round(self.width * self.sample_aspect)
        if self.rotation % 180 == 90:
            return self.height, width
        return width, self.height


def probe_argv(path: Path, *, ffprobe: str = "ffprobe") -> list[str]:
    """ffprobe's argv: JSON of format and streams, real containers only."""
    return [
        ffprobe,
        "-v", "error",
        "-hide_banner",
        "-protocol_whitelist", "file",
        "-format_whitelist", ",".join(sorted(DEMUXERS)),
        "-max_pixels", str(MAX_PIXELS),
        "-probesize", str(PROBE_BYTES),
        "-analyzeduration", str(ANALYZE_MICROSECONDS),
        "-max_streams", str(MAX_STREAMS),
        "-print_format", "json",
        "-show_format",
        "-show_streams",
        path_arg(path),
    ]  # fmt: skip


def path_arg(path: Path) -> str:
    """A path as an ffmpeg argument that cannot read as an option or a protocol."""
    text = str(path)
    return text if path.is_absolute() else f"./{text}"


#: What ffmpeg may open to read a recording through `StoreUrl`: HTTP(S) and what they
#: run on, nothing else (no ``file``, no playlists' ``crypto``, ``data`` or ``concat``).
URL_PROTOCOLS = "https,http,tcp,tls"
_URL_SCHEMES = ("https://", "http://")


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A time-limited HTTP(S) GET address of a recording in our own object store (a
    presigned URL). Only `storage.exchange` makes one, from the store's answer, never
    from anything a user sent; ffmpeg reads it through HTTP range requests, so a seek
    (``-ss``) requests only the bytes it needs."""

    address: str

    def __post_init__(self) -> None:
        if (not self.address.startswith(_URL_SCHEMES)
                or any(c.isspace() or ord(c) < 32 for c in self.address)):
            raise ValueError("a store URL is an http:// or https:// address without spaces")

    def __str__(self) -> str:
        """Without its query, which holds the signature: for logs and messages."""
        return self.address.partition("?")[0]


#: Where ffmpeg reads a recording: a file of this machine, or an address in our store.
MediaInput = Path | StoreUrl


def input_arg(src: MediaInput) -> str:
    """The argument after ``-i``: a path that cannot read as an option or a protocol, or
    the store's URL as it is."""
    return src.address if isinstance(src, StoreUrl) else path_arg(src)


def input_protocols(src: MediaInput) -> str:
    """``-protocol_whitelist`` for `src`: ``file`` for a path, HTTP(S) for a URL."""
    return URL_PROTOCOLS if isinstance(src, StoreUrl) else "file"


def _number(value: Any, default: float = 0.0) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if result == result else default  # NaN


def _ratio(value: Any) -> Fraction | None:
    try:
        result = Fraction(str(value).replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return result if result > 0 else None


def _demuxer(fmt: dict[str, Any], source: str) -> str:
    name = str(fmt.get("format_name", "")).split(",")[0]
    if name not in DEMUXERS:
        raise refused(
            source,
            N_("the {format} format is not accepted; replay takes video or audio recordings "
               "(MP4, MOV, MKV, WebM, TS, AVI, WAV, MP3...), not playlists or image "
               "sequences. Upload the recording file itself."),
            format=name or MediaError(N_("unknown")),
        )
    return name


def _duration(fmt: dict[str, Any], streams: list[dict[str, Any]], source: str) -> float:
    duration = _number(fmt.get("duration"))
    if duration <= 0:
        duration = max((_number(s.get("duration")) for s in streams), default=0.0)
    if duration <= 0:
        raise refused(
            source,
            N_("the recording has no length (zero or unknown duration); it is probably "
               "empty or truncated. Upload the complete file again."),
        )
    return duration


def _creation_time(fmt: dict[str, Any]) -> datetime | None:
    raw = (fmt.get("tags") or {}).get("creation_time")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    if moment.tzinfo is None:  # containers store UTC
        moment = moment.replace(tzinfo=UTC)
    return moment if moment >= _EARLIEST_CREATION else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return round(_number(side["rotation"])) % 360
    return round(_number((stream.get("tags") or {}).get("rotate"))) % 360


def _fps(stream: dict[str, Any]) -> float:
    rate = _ratio(stream.get("avg_frame_rate")) or _ratio(stream.get("r_frame_rate"))
    return float(rate) if rate else 0.0


def _check_size(width: int, height: int, source: str) -> None:
    if width <= 0 or height <= 0:
        raise refused(
            source,
            N_("the video track has no picture size; the file is damaged. Export or copy "
               "the recording again."),
        )
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise refused(
            source,
            N_("the picture is {width}x{height} pixels, larger than replay accepts ({side} a "
               "side, 8192x4320 in all). Export the recording at 4K or less."),
            width=str(width), height=str(height), side=str(MAX_SIDE),
        )


def _first(streams: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    for stream in streams:
        cover = (stream.get("disposition") or {}).get("attached_pic") == 1
        if stream.get("codec_type") == kind and not cover:
            return stream
    return None


def _video_fields(video: dict[str, Any] | None, source: str) -> dict[str, Any]:
    if video is None:
        return {"has_video": False, "width": 0, "height": 0, "fps": 0.0, "video_codec": ""}
    width, height = int(_number(video.get("width"))), int(_number(video.get("height")))
    _check_size(width, height, source)
    return {
        "has_video": True,
        "width": width,
        "height": height,
        "fps": _fps(video),
        "video_codec": str(video.get("codec_name", "")),
        "sample_aspect": _ratio(video.get("sample_aspect_ratio")) or Fraction(1),
        "rotation": _rotation(video),
    }


def _load(raw: str | bytes, source: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict) or not data.get("streams"):
        raise refused(
            source,
            N_("not a video or audio file ffmpeg can read (no media streams). Check that the "
               "upload completed and that it is the recording."),
        )
    return data.get("format") or {}, list(data["streams"])


def parse_probe(raw: str | bytes, *, source: str) -> MediaInfo:
    """MediaInfo from ffprobe's JSON, or :class:`MediaError` saying why replay refuses it."""
    fmt, streams = _load(raw, source)
    if len(streams) > MAX_STREAMS:
        raise _too_many_streams(source)
    format_name = _demuxer(fmt, source)
    audio = _first(streams, "audio")
    if audio is None:
        raise MediaError(
            N_("{source} has no audio track; replay needs the room's sound to transcribe and "
               "cut sessions. Upload a recording with sound."),
            **{SOURCE: source},
        )
    return MediaInfo(
        format_name=format_name,
        duration=_duration(fmt, streams, source),
        has_audio=True,
        audio_codec=str(audio.get("codec_name", "")),
        sample_rate=int(_number(audio.get("sample_rate"))),
        creation_time=_creation_time(fmt),
        **_video_fields(_first(streams, "video"), source),
    )


def stored_media_info(stored: dict[str, Any] | None) -> MediaInfo | None:
    """The MediaInfo that probing gave, from its stored form (``asdict`` written as JSON
    with ``default=str``: a date and a fraction as text), so that a job reads it instead
    of probing the recording again; None when nothing usable was stored (then probe)."""
    if not stored:
        return None
    try:
        created = stored.get("creation_time")
        info = MediaInfo(
            format_name=str(stored["format_name"]),
            duration=float(stored["duration"]),
            has_video=_flag(stored["has_video"]),
            width=int(stored["width"]),
            height=int(stored["height"]),
            fps=float(stored["fps"]),
            video_codec=str(stored["video_codec"]),
            has_audio=_flag(stored["has_audio"]),
            audio_codec=str(stored["audio_codec"]),
            sample_rate=int(stored["sample_rate"]),
            creation_time=datetime.fromisoformat(str(created)) if created else None,
            sample_aspect=Fraction(str(stored.get("sample_aspect", 1))),
            rotation=int(stored.get("rotation", 0)),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    fine = (info.format_name in DEMUXERS and info.duration > 0 and info.sample_aspect > 0
            and (not info.has_video or 0 < info.width * info.height <= MAX_PIXELS))
    return info if fine else None


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _ffprobe_says(tail: tuple[str, ...], path: Path) -> str:
    """ffprobe's last words, without the server's path and the ``[demuxer @ 0x...]`` tags."""
    prefix = f"{path_arg(path)}: "
    said = [_LOG_TAG.sub("", line).removeprefix(prefix).strip() for line in tail[-3:]]
    return "; ".join(dict.fromkeys(line for line in said if line)) or "no output"


def _too_many_streams(source: str) -> MediaError:
    return refused(
        source,
        N_("the file has more than {count} streams; a recording has a few (picture and "
           "sound). Upload the recording file itself."),
        count=str(MAX_STREAMS),
    )


def _explain_failure(path: Path, error: FfmpegFailed) -> MediaError:
    said = "\n".join(error.stderr_tail)
    if _TOO_MANY_STREAMS in said:
        return _too_many_streams(path.name)
    not_listed = _NOT_WHITELISTED.search(said)
    if not_listed:
        return refused(
            path.name,
            N_("the {format} format is not accepted; it is a playlist or a format that reads "
               "other files, not a recording. Upload the recording file itself."),
            format=not_listed.group(1).split(",")[0],
        )
    return refused(
        path.name,
        N_("not a video or audio file ffmpeg can read, or it is truncated (ffprobe: {said}). "
           "Check that the upload completed and that it is the recording."),
        said=_ffprobe_says(error.stderr_tail, path),
    )


async def probe(
    path: Path,
    *,
    timeout: float = 60,  # noqa: ASYNC109 - passed to the runner, which kills ffprobe
    ffprobe: str = "ffprobe",
) -> MediaInfo:
    """Probe a recording with ffprobe; :class:`MediaError` if replay cannot process it."""
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as error:
        raise refused(str(path), N_("cannot read the file ({reason})."),
                      reason=str(error.strerror)) from error
    if size == 0:
        raise refused(path.name, N_("the file is empty (0 bytes). Upload the recording again."))
    try:
        raw = await run_capture(probe_argv(path, ffprobe=ffprobe), timeout=timeout)
    except FfmpegTimeout as error:
        raise refused(
            path.name,
            N_("ffprobe did not finish within {seconds} s; the file is probably damaged. "
               "Export or copy the recording again."),
            seconds=f"{timeout:g}",
        ) from error
    except FfmpegFailed as error:
        raise _explain_failure(path, error) from error
    info = parse_probe(raw, source=path.name)
    await _check_complete(path, info, ffprobe=ffprobe, timeout=timeout)
    return info


#: How far before the announced end the last packets are looked for, in seconds.
TAIL_SECONDS = 5.0


def tail_packets_argv(path: Path, info: MediaInfo, *, ffprobe: str = "ffprobe") -> list[str]:
    """ffprobe's argv to read a few packets near the end that the container announces."""
    near_end = max(0.0, info.duration - TAIL_SECONDS)
    return [
        ffprobe, "-v", "error", "-hide_banner",
        "-f", info.format_name, "-protocol_whitelist", "file",
        "-max_streams", str(MAX_STREAMS),
        "-read_intervals", f"{near_end:.3f}%+#5",
        "-show_entries", "packet=pts_time", "-print_format", "csv=p=0",
        path_arg(path),
    ]  # fmt: skip


async def _check_complete(
    path: Path, info: MediaInfo, *, ffprobe: str, timeout: float  # noqa: ASYNC109
) -> None:
    """A file cut short (an interrupted copy) still announces its full length: read its end."""
    try:
        tail = await run_capture(tail_packets_argv(path, info, ffprobe=ffprobe), timeout=timeout)
    except FfmpegFailed as error:
        raise _explain_failure(path, error) from error
    if not tail.strip():
        raise refused(
            path.name,
            N_("the file is truncated: it announces {seconds} s but its last seconds are "
               "missing. Copy or upload the complete recording again."),
            seconds=f"{info.duration:.0f}",
        )
