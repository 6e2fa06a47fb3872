"""ffmpeg and ffprobe command lines of the live, as data (nothing runs here).

One ffmpeg per take reads the room's stream once and writes, side by side:

- one folder of MPEG-TS segments per rung (``-f segment``, a CSV list of the finished
  ones that the take watches): the source video copied as the top rung when it is H.264
  and fits that rung, the lower rungs encoded with their keyframes where the source has
  them (``-force_key_frames source``) so that every rung cuts at the same times;
- the audio-only rung;
- the archive: the input as received (copied), in chunks of the same length;
- the take's sound as 16 kHz mono s16le PCM on stdout (speech map, live captions).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from replay.domain.ladder import Rung, choose_ladder
from replay.media.commands import x264_options, x264_profile
from replay.media.probe import MAX_PIXELS

SEGMENT_LIST = "list.csv"
SEGMENT_PATTERN = "%06d.ts"
ARCHIVE = "archive"
PCM_RATE = 16000
#: The live's inputs are our own nginx (RTMP) and ffmpeg's SRT listener.
PROTOCOLS = "rtmp,tcp,srt,udp"
_DEINTERLACE = "bwdif=mode=send_frame:deint=interlaced"


@dataclass(frozen=True, slots=True)
class LiveSource:
    """What probing the incoming stream found."""

    video_codec: str
    width: int
    height: int
    fps: float
    has_audio: bool

    @property
    def has_video(self) -> bool:
        return self.width > 0 and self.height > 0


@dataclass(frozen=True, slots=True)
class LivePlan:
    """The rungs of a take, largest first, and whether the top one is the source copied."""

    rungs: tuple[Rung, ...]
    copy_top: bool

    @property
    def video(self) -> tuple[Rung, ...]:
        return tuple(r for r in self.rungs if not r.is_audio_only)

    @property
    def audio(self) -> Rung:
        return next(r for r in self.rungs if r.is_audio_only)


def plan_ladder(source: LiveSource) -> LivePlan:
    """Choose the rungs from the source's size (`domain.ladder`); copy the source as the
    top rung when it is H.264 at exactly that rung's size."""
    rungs = choose_ladder(source.width, source.height) if source.has_video else \
        choose_ladder(0, 0)
    top = rungs[0]
    copy_top = (source.video_codec == "h264" and not top.is_audio_only
                and (top.width, top.height) == (source.width, source.height))
    return LivePlan(tuple(rungs), copy_top)


def probe_stream_argv(url: str, *, ffprobe: str = "ffprobe") -> list[str]:
    return [
        ffprobe, "-v", "error", "-hide_banner",
        "-protocol_whitelist", PROTOCOLS,
        "-analyzeduration", "3000000", "-probesize", "5000000",
        "-print_format", "json", "-show_streams",
        url,
    ]  # fmt: skip


def parse_stream_probe(raw: bytes | str) -> LiveSource:
    streams = json.loads(raw).get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = any(s.get("codec_type") == "audio" for s in streams)
    if video is None:
        return LiveSource("", 0, 0, 0.0, audio)
    num, _, den = str(video.get("avg_frame_rate") or video.get("r_frame_rate") or "0/1") \
        .partition("/")
    fps = float(num) / float(den) if den not in ("", "0") and num else 0.0
    return LiveSource(str(video.get("codec_name", "")), int(video.get("width") or 0),
                      int(video.get("height") or 0), fps, audio)


def _segments(folder: Path, seconds: float) -> list[str]:
    return [
        "-f", "segment",
        "-segment_time", f"{seconds:g}",
        "-segment_format", "mpegts",
        "-segment_list", str(folder / SEGMENT_LIST),
        "-segment_list_type", "csv",
        "-segment_list_flags", "live",
        "-reset_timestamps", "0",
        "-map_metadata", "-1",
        str(folder / SEGMENT_PATTERN),
    ]  # fmt: skip


def _video_graph(encoded: Sequence[Rung]) -> str:
    """Decode once, then scale in a chain, as the replay's ladder does
    (:func:`replay.media.commands.ladder_argv`): the largest rung from the source, each
    smaller one from the one before it. ``[v<i>]`` is ``encoded[i]``'s picture."""
    by_area = sorted(range(len(encoded)), key=lambda i: -encoded[i].width * encoded[i].height)
    picture = f"[0:v:0]{_DEINTERLACE},format=yuv420p,"
    chains = []
    for step, index in enumerate(by_area):
        rung = encoded[index]
        scaled = f"{picture}scale={rung.width}:{rung.height}:flags=bicubic,setsar=1"
        if step == len(by_area) - 1:
            chains.append(f"{scaled}[v{index}]")
        else:
            chains.append(f"{scaled},split=2[v{index}][c{index}]")
            picture = f"[c{index}]"
    return ";".join(chains)


def _encoded_rung(index: int, rung: Rung, seconds: float, *, follow_source: bool) -> list[str]:
    keyframes = "source" if follow_source else f"expr:gte(t,n_forced*{seconds:g})"
    x264 = [arg for key, value in x264_options(0, rung, None).items()
            for arg in (f"-{key}", value)]
    return [
        "-map", f"[v{index}]",
        "-c:v", "libx264", *x264, "-tune", "zerolatency",
        "-profile:v", x264_profile(rung),
        "-b:v", f"{rung.video_kbps}k", "-maxrate:v", f"{rung.video_kbps * 11 // 10}k",
        "-bufsize:v", f"{rung.video_kbps * 2}k",
        "-force_key_frames:v", keyframes, "-sc_threshold:v", "0",
    ]  # fmt: skip


def _audio(rung: Rung, index: int = 0) -> list[str]:
    return ["-map", "0:a:0", "-c:a", "aac", "-ac", "2", "-ar", "48000",
            f"-b:a:{index}", f"{rung.audio_kbps}k"]


def live_argv(url: str, plan: LivePlan, out_dir: Path, *, segment_seconds: float,
              threads: int, input_format: str = "flv", ffmpeg: str = "ffmpeg") -> list[str]:
    """The take's one ffmpeg: `out_dir/<rung>/` and `out_dir/archive/` segment folders,
    PCM on stdout."""
    # « info » for the input's start time (the take's clock against the publisher's).
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
            "-threads", str(threads), "-f", input_format, "-protocol_whitelist", PROTOCOLS,
            "-analyzeduration", "3000000", "-probesize", "5000000",
            "-max_pixels", str(MAX_PIXELS), "-i", url]
    video = plan.video
    encoded = video[1:] if plan.copy_top else video
    if encoded:
        argv += ["-filter_complex", _video_graph(encoded),
                 "-filter_complex_threads", str(threads)]
    for rung in video:
        if plan.copy_top and rung is video[0]:
            argv += ["-map", "0:v:0", "-c:v", "copy"]
        else:
            index = encoded.index(rung)
            argv += _encoded_rung(index, rung, segment_seconds, follow_source=plan.copy_top)
        argv += [*_audio(rung), "-threads", str(threads),
                 *_segments(out_dir / rung.name, segment_seconds)]
    argv += [*_audio(plan.audio), "-vn", *_segments(out_dir / plan.audio.name,
                                                    segment_seconds)]
    archive = ["-map", "0:v:0?", "-map", "0:a:0", "-c", "copy"]
    argv += [*archive, *_segments(out_dir / ARCHIVE, segment_seconds)]
    argv += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(PCM_RATE), "-c:a", "pcm_s16le",
             "-f", "s16le", "pipe:1"]
    return argv


def srt_relay_argv(listen: str, rtmp_url: str, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """ffmpeg's SRT listener for one room, relaying what it receives (copied) into the
    local nginx, so that SRT and RTMP takes run the same way. A wrong passphrase is
    refused in the handshake (BADSECRET) and the listener keeps listening."""
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning",
        "-protocol_whitelist", PROTOCOLS, "-analyzeduration", "2500000",
        "-f", "mpegts", "-i", listen,
        "-map", "0:v:0?", "-map", "0:a:0", "-c", "copy",
        "-f", "flv", rtmp_url,
    ]  # fmt: skip


def srt_listen_url(host: str, port: int, passphrase: str) -> str:
    """The listener's address; SRT passphrases are 10 to 79 characters."""
    if not 10 <= len(passphrase) <= 79:
        raise ValueError("an SRT passphrase has 10 to 79 characters")
    return (f"srt://{host}:{port}?mode=listener&passphrase={passphrase}"
            "&pbkeylen=16&latency=200000")


def poster_argv(segment: Path, dst_jpg: Path, *, width: int = 1280,
                ffmpeg: str = "ffmpeg") -> list[str]:
    """The first frame of one of our own segments as a JPEG, `width` wide at most."""
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "mpegts", "-protocol_whitelist", "file", "-i", str(segment),
        "-map", "0:v:0", "-frames:v", "1",
        "-vf", f"scale='min({width},iw)':-2:flags=bicubic,setsar=1",
        "-an", "-map_metadata", "-1", "-c:v", "mjpeg", "-q:v", "3",
        "-f", "image2", "-update", "1", str(dst_jpg),
    ]  # fmt: skip


def concat_argv(list_file: Path, dst: Path, *, audio_only: bool = False,
                output_format: str = "mp4", ffmpeg: str = "ffmpeg") -> list[str]:
    """Remux our own segments, listed in an ffconcat file, into one file (no re-encode).
    The concat demuxer shifts each file after the previous one, so takes whose clocks
    restarted join without a jump."""
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "concat", "-safe", "0", "-protocol_whitelist", "file",
            "-i", str(list_file)]
    argv += ["-map", "0:a:0", "-vn", "-c:a", "copy"] if audio_only else \
        ["-map", "0:v:0?", "-map", "0:a:0", "-c", "copy"]
    if output_format in {"mp4", "ipod"}:
        argv += ["-movflags", "+faststart"]
    return [*argv, "-map_metadata", "-1", "-f", output_format, str(dst)]


def ffconcat(paths: Sequence[Path]) -> str:
    lines = ["ffconcat version 1.0"]
    for path in paths:
        if "'" in str(path) or "\n" in str(path):
            raise ValueError(f"unsupported character in a segment path: {path}")
        lines.append(f"file '{path}'")
    return "\n".join(lines) + "\n"
