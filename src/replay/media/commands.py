"""ffmpeg command lines as data: each builder returns an argv list, nothing runs here.

Every input is read with the demuxer that probing found (``-f``), through the
``file`` protocol only, and video decoders get ``-max_pixels``: a file cannot
turn into a playlist that reads other files, nor into a decompression bomb.
Outputs drop the source's metadata (phones write GPS positions).

ffmpeg 5.1's HLS muxer writes BANDWIDTH (nominal bitrates + 1/10, the same as
:func:`replay.domain.ladder.bandwidth`), RESOLUTION and CODECS on every
``EXT-X-STREAM-INF`` of the master playlist, including the audio-only variant,
so the playlist needs no rewriting; :func:`add_subtitle_renditions` adds the
subtitle group afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from replay.domain.ladder import Rung
from replay.media.probe import MAX_PIXELS, MediaInfo, path_arg

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
SUBTITLE_GROUP = "subs"

#: Deinterlace only frames flagged as interlaced (broadcast cameras); progressive
#: frames pass through untouched.
_DEINTERLACE = "bwdif=mode=send_frame:deint=interlaced"
_RUNG_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SUBTITLES_ATTR = re.compile(r',SUBTITLES="[^"]*"')


def _head(ffmpeg: str, *, progress: bool = True) -> list[str]:
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-y", "-loglevel", "warning"]
    if progress:
        argv += ["-nostats", "-progress", "pipe:1"]
    return argv


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _input(
    src: Path,
    info: MediaInfo,
    *,
    threads: int,
    decode_video: bool,
    start: float | None = None,
    duration: float | None = None,
) -> list[str]:
    """Input options then ``-i``: forced demuxer, file protocol, seek before the input."""
    argv = ["-threads", str(threads), "-f", info.format_name, "-protocol_whitelist", "file"]
    if decode_video:
        argv += ["-max_pixels", str(MAX_PIXELS)]
    if start is not None:
        argv += ["-ss", _seconds(start)]
    if duration is not None:
        argv += ["-t", _seconds(duration)]
    return [*argv, "-i", path_arg(src)]


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def extract_audio_argv(
    src: Path, info: MediaInfo, dst_wav: Path, *, threads: int, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """The whole recording's first audio track as 16 kHz mono 16-bit WAV, in one pass."""
    return [
        *_head(ffmpeg),
        *_input(src, info, threads=threads, decode_video=False),
        "-map", "0:a:0",
        "-vn", "-sn", "-dn",
        "-ac", "1",
        "-ar", "16000",
        "-c:a", "pcm_s16le",
        "-map_metadata", "-1",
        "-f", "wav",
        path_arg(dst_wav),
    ]  # fmt: skip


def _check_ladder(info: MediaInfo, rungs: Sequence[Rung], out_dir: Path, seconds: float) -> None:
    names = [rung.name for rung in rungs]
    if not rungs or len(set(names)) != len(names):
        raise ValueError(f"rungs must be non-empty with unique names, got {names}")
    if not all(_RUNG_NAME.fullmatch(name) for name in names):
        raise ValueError(f"rung names must be letters, digits, '-' or '_', got {names}")
    if any(not r.is_audio_only for r in rungs) and not info.has_video:
        raise ValueError("video rungs asked for a source without video")
    if "%" in str(out_dir):
        raise ValueError(f"out_dir must not contain '%' (an HLS pattern): {out_dir}")
    if seconds <= 0:
        raise ValueError(f"segment_seconds must be positive, got {seconds}")


def _video_graph(video: Sequence[Rung]) -> str:
    """Decode once, split, one scaler per rung: ``[v0]``, ``[v1]``... for the maps."""
    splits = "".join(f"[s{i}]" for i in range(len(video)))
    chains = [f"[0:v:0]{_DEINTERLACE},format=yuv420p,split={len(video)}{splits}"]
    chains += [
        f"[s{i}]scale={rung.width}:{rung.height}:flags=bicubic,setsar=1[v{i}]"
        for i, rung in enumerate(video)
    ]
    return ";".join(chains)


def _video_codec(video: Sequence[Rung], fps: float, seconds: float) -> list[str]:
    """H.264 per rung, keyframes every ``seconds`` in all rungs (aligned segments)."""
    gop = max(1, round(seconds * fps)) if fps > 0 else max(1, round(seconds * 25))
    argv = [
        "-c:v", "libx264",
        "-preset", "veryfast",
        "-g:v", str(gop),
        "-keyint_min:v", str(gop),
        "-sc_threshold:v", "0",
        "-force_key_frames:v", f"expr:gte(t,n_forced*{seconds:g})",
    ]  # fmt: skip
    for i, rung in enumerate(video):
        argv += [
            f"-profile:v:{i}", "high" if min(rung.width, rung.height) > 480 else "main",
            f"-b:v:{i}", f"{rung.video_kbps}k",
            f"-maxrate:v:{i}", f"{rung.video_kbps * 11 // 10}k",
            f"-bufsize:v:{i}", f"{rung.video_kbps * 2}k",
        ]  # fmt: skip
    return argv


def _audio_codec(rungs: Sequence[Rung]) -> list[str]:
    """AAC stereo 48 kHz, one audio stream per rung, in ``rungs`` order."""
    argv = ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
    for i, rung in enumerate(rungs):
        argv += [f"-b:a:{i}", f"{rung.audio_kbps}k"]
    return argv


def _var_stream_map(video: Sequence[Rung], audio: Sequence[Rung]) -> str:
    """Video rung i pairs v:i with a:i; audio-only rungs get the audio streams after."""
    entries = [f"v:{i},a:{i},name:{rung.name}" for i, rung in enumerate(video)]
    entries += [f"a:{len(video) + j},name:{rung.name}" for j, rung in enumerate(audio)]
    return " ".join(entries)


def _hls_output(out_dir: Path, seconds: float, stream_map: str) -> list[str]:
    return [
        "-f", "hls",
        "-hls_time", f"{seconds:g}",
        "-hls_playlist_type", "vod",
        "-hls_list_size", "0",
        "-hls_segment_type", "mpegts",
        "-hls_flags", "independent_segments",
        "-var_stream_map", stream_map,
        "-master_pl_name", MASTER_PLAYLIST,
        "-hls_segment_filename", path_arg(out_dir / "%v" / SEGMENT_PATTERN),
        path_arg(out_dir / "%v" / VARIANT_PLAYLIST),
    ]  # fmt: skip


def ladder_argv(
    src: Path,
    info: MediaInfo,
    *,
    start: float,
    duration: float,
    rungs: Sequence[Rung],
    out_dir: Path,
    segment_seconds: float = 6.0,
    threads: int,
    ffmpeg: str = "ffmpeg",
) -> list[str]:
    """One ffmpeg process: decode ``[start, start+duration)`` once, encode every rung to HLS.

    Writes ``out_dir/master.m3u8`` and ``out_dir/<rung name>/index.m3u8`` with
    ``seg_00000.ts``...; audio-only rungs are variants of their own. Video rungs
    come first in ``rungs`` order, then audio-only rungs.
    """
    _check_ladder(info, rungs, out_dir, segment_seconds)
    video = [rung for rung in rungs if not rung.is_audio_only]
    audio = [rung for rung in rungs if rung.is_audio_only]
    ordered = [*video, *audio]
    argv = [*_head(ffmpeg), *_input(
        src, info, threads=threads, decode_video=bool(video), start=start, duration=duration
    )]  # fmt: skip
    if video:
        argv += ["-filter_complex", _video_graph(video), "-filter_complex_threads", str(threads)]
        argv += [arg for i in range(len(video)) for arg in ("-map", f"[v{i}]")]
        argv += _video_codec(video, info.fps, segment_seconds)
    argv += [arg for _ in ordered for arg in ("-map", "0:a:0")]
    argv += _audio_codec(ordered)
    argv += ["-threads", str(threads), "-map_metadata", "-1", "-map_chapters", "-1"]
    return argv + _hls_output(out_dir, segment_seconds, _var_stream_map(video, audio))


def mp4_from_hls_argv(
    variant_playlist: Path, dst_mp4: Path, *, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """Remux one rung that :func:`ladder_argv` wrote into a progressive MP4 (no re-encoding).

    HLS is read only here, from our own output: the demuxer is forced, only the
    file protocol and ``.ts`` segments are allowed.
    """
    return [
        *_head(ffmpeg),
        "-f", "hls",
        "-protocol_whitelist", "file",
        "-allowed_extensions", "ts",
        "-i", path_arg(variant_playlist),
        "-map", "0",
        "-c", "copy",
        "-map_metadata", "-1",
        "-movflags", "+faststart",
        "-f", "mp4",
        path_arg(dst_mp4),
    ]  # fmt: skip


def m4a_from_hls_argv(
    audio_playlist: Path, dst_m4a: Path, *, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """Remux the audio-only rung into an M4A for podcasts (AAC copied, no re-encoding).

    The same hardened HLS input as :func:`mp4_from_hls_argv`; ``-f ipod`` writes
    the M4A brand that podcast players expect, the index first for progressive download.
    """
    return [
        *_head(ffmpeg),
        "-f", "hls",
        "-protocol_whitelist", "file",
        "-allowed_extensions", "ts",
        "-i", path_arg(audio_playlist),
        "-map", "0:a:0",
        "-vn", "-sn", "-dn",
        "-c:a", "copy",
        "-map_metadata", "-1",
        "-movflags", "+faststart",
        "-f", "ipod",
        path_arg(dst_m4a),
    ]  # fmt: skip


def poster_argv(
    src: Path,
    info: MediaInfo,
    *,
    at: float,
    dst_jpg: Path,
    width: int = 1280,
    ffmpeg: str = "ffmpeg",
) -> list[str]:
    """One JPEG frame near ``at`` seconds, ``width`` wide at most (never upscaled).

    ``at`` is clamped to the recording (one second before its end at most).
    """
    if not info.has_video:
        raise ValueError("a poster needs a source with video")
    shown_w, shown_h = info.display_size
    out_w = _even(min(width, shown_w))
    out_h = _even(out_w * shown_h / shown_w)
    at = min(max(at, 0.0), max(info.duration - 1.0, 0.0))
    return [
        *_head(ffmpeg, progress=False),
        *_input(src, info, threads=1, decode_video=True, start=at),
        "-map", "0:v:0",
        "-frames:v", "1",
        "-vf", f"{_DEINTERLACE},scale={out_w}:{out_h}:flags=bicubic,setsar=1",
        "-an", "-sn", "-dn",
        "-map_metadata", "-1",
        "-c:v", "mjpeg",
        "-q:v", "3",
        "-f", "image2",
        "-update", "1",
        path_arg(dst_jpg),
    ]  # fmt: skip


def _quoted(value: str, what: str) -> str:
    if '"' in value or "\n" in value or "\r" in value or not value:
        raise ValueError(f"subtitle {what} must be non-empty, no quotes or newlines: {value!r}")
    return f'"{value}"'


def _media_line(lang: str, name: str, uri: str, default: bool) -> str:
    flag = "YES" if default else "NO"
    return (
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",NAME={_quoted(name, "name")},'
        f"LANGUAGE={_quoted(lang, 'language')},DEFAULT={flag},AUTOSELECT=YES,FORCED=NO,"
        f"URI={_quoted(uri, 'uri')}"
    )


def add_subtitle_renditions(
    master_text: str, renditions: Sequence[tuple[str, str, str, bool]]
) -> str:
    """The master playlist with a subtitle group: one rendition per (lang, name, uri, default).

    Adds ``#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",...`` lines before the
    first variant and ``SUBTITLES="subs"`` on every ``EXT-X-STREAM-INF``.
    Idempotent: existing subtitle lines of the group are replaced; with no
    renditions, the group is removed.
    """
    media = [_media_line(*rendition) for rendition in renditions]
    own = f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}"'
    out: list[str] = []
    for line in master_text.splitlines():
        if line.startswith(own):
            continue
        if line.startswith("#EXT-X-STREAM-INF:"):
            out += media
            media = []
            line = _SUBTITLES_ATTR.sub("", line)
            line += f',SUBTITLES="{SUBTITLE_GROUP}"' if renditions else ""
        out.append(line)
    return "\n".join(out) + "\n"
