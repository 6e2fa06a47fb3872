"""ffmpeg command lines as data: each builder returns an argv list, nothing runs here.

The graphs (inputs, filters, maps, outputs) are built with ffmpeg-python and compiled
to argv with ``get_args()``; the one async runner (:mod:`replay.media.runner`) runs
them. ffmpeg-python never runs anything itself.

Every input is read with the demuxer that probing found (``-f``), through the
``file`` protocol only, and video decoders get ``-max_pixels``: a file cannot
turn into a playlist that reads other files, nor into a decompression bomb. A
session's media job on a machine without the original reads it from our object
store instead (`probe.StoreUrl`, a presigned address): through HTTP(S) only
(``-protocol_whitelist https,http,tcp,tls``), still with the probed demuxer, and with
the seek on the input side (``-ss``/``-t`` before ``-i``), so that ffmpeg requests the
container's index and the span's bytes by range instead of the whole recording.
Outputs drop the source's metadata (phones write GPS positions).

The ladder is one ffmpeg whose outputs go through the ``tee`` muxer, one HLS muxer per
variant, so that variants with the same audio bitrate share one AAC encode: ffmpeg's HLS
muxer will not put one stream in two variants, and ffmpeg 5.1 runs every audio encoder
on its main thread, beside the filter graph. Each variant's muxer writes a one-line
master playlist of its own (:data:`VARIANT_MASTER`) with BANDWIDTH (nominal bitrates +
1/10, the same as :func:`replay.domain.ladder.bandwidth`), RESOLUTION and CODECS;
:func:`master_playlist` joins them into the ladder's, and
:func:`add_subtitle_renditions` adds the subtitle group afterwards. A copied top rung gets
its CODECS too because its parameter sets are turned into Annex B
(``h264_mp4toannexb``) before the muxer reads them; its BANDWIDTH is the source's
declared bitrate plus 1/10. The encoded rungs get theirs from x264's global header, which
the MPEG-TS muxer still repeats before every keyframe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from replay.domain.ladder import Rung
from replay.media.probe import (
    MAX_PIXELS,
    MediaInfo,
    MediaInput,
    StoreUrl,
    input_arg,
    input_protocols,
    path_arg,
)

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
#: Each variant's own master playlist, which :func:`master_playlist` joins.
VARIANT_MASTER = "variant.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
SUBTITLE_GROUP = "subs"

#: Deinterlace only frames flagged as interlaced (broadcast cameras); progressive
#: frames pass through untouched.
_DEINTERLACE = {"mode": "send_frame", "deint": "interlaced"}
_RUNG_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SUBTITLES_ATTR = re.compile(r',SUBTITLES="[^"]*"')

#: x264 for the encoded rungs, by the rung's short side: the preset and the profile. The
#: large rungs search motion with the diamond (`me=dia`, as `superfast`): 11 % faster for
#: 0.00003 SSIM at 720p. The small ones (a phone, a poor link) have generous bitrates for
#: their size, where `superfast` costs little SSIM (bench/RESULTS.md, the ladder).
X264_PRESET = "veryfast"
X264_PARAMS = "me=dia"
X264_SMALL_RUNG_PRESET = "superfast"
SMALL_RUNG_SHORT_SIDE = 480
#: Changes whenever the ladder's pictures would differ for the same rungs and settings, so
#: that outputs made before are not taken for current ones.
LADDER_REVISION = "3: scaled in a chain; x264 settings by rung; one AAC encode per bitrate"
#: With a copied top rung, the encoders make keyframes only where the source has them;
#: this keeps x264 from adding its own in between (so segments line up across rungs).
_NO_OWN_KEYFRAMES = 100_000
#: The ffmpeg command line's muxing delay (``-muxdelay``, 0.7 s), which it does not hand on
#: to the tee muxer's outputs: without it every AAC frame gets a PES packet of its own
#: (4 % more bytes at 360p).
_TEE_MAX_DELAY_US = 700_000


def _head(ffmpeg_bin: str, *, progress: bool = True) -> list[str]:
    argv = [ffmpeg_bin, "-nostdin", "-hide_banner", "-y", "-loglevel", "warning"]
    if progress:
        argv += ["-nostats", "-progress", "pipe:1"]
    return argv


def _compile(output: Any, ffmpeg_bin: str, *, progress: bool = True,
             global_options: Sequence[str] = ()) -> list[str]:
    """Our global options first, then what ffmpeg-python compiled for the graph."""
    compiled: list[str] = [str(arg) for arg in output.get_args()]
    return [*_head(ffmpeg_bin, progress=progress), *global_options, *compiled]


def _seconds(value: float) -> str:
    """Microseconds, so that a cut on a keyframe seeks to that very keyframe."""
    return f"{value:.6f}"


#: A URL input: a dropped connection (a long ladder, a store's idle timeout) is opened
#: again where it stopped, instead of failing the job.
_URL_OPTIONS = {"reconnect": 1, "reconnect_on_network_error": 1, "reconnect_delay_max": 30}


def _input(
    src: MediaInput,
    info: MediaInfo,
    *,
    threads: int,
    decode_video: bool,
    start: float | None = None,
    duration: float | None = None,
) -> Any:
    """The source as an ffmpeg-python input: forced demuxer, file protocol (HTTP(S) for
    our store's URL), seek first."""
    options: dict[str, Any] = {"format": info.format_name,
                               "protocol_whitelist": input_protocols(src), "threads": threads}
    if isinstance(src, StoreUrl):
        options |= _URL_OPTIONS
    if decode_video:
        options["max_pixels"] = MAX_PIXELS
    if start is not None:
        options["ss"] = _seconds(start)
    if duration is not None:
        options["t"] = _seconds(duration)
    return ffmpeg_python.input(input_arg(src), **options)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def extract_audio_argv(
    src: Path, info: MediaInfo, dst_wav: Path, *, threads: int, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """The whole recording's first audio track as 16 kHz mono 16-bit WAV, in one pass."""
    source = _input(src, info, threads=threads, decode_video=False)
    output = source["a:0"].output(
        path_arg(dst_wav), format="wav", vn=None, sn=None, dn=None, ac=1, ar=16000,
        map_metadata=-1, **{"c:a": "pcm_s16le"})
    return _compile(output, ffmpeg)


def _check_ladder(info: MediaInfo, rungs: Sequence[Rung], out_dir: Path, seconds: float) -> None:
    names = [rung.name for rung in rungs]
    if not rungs or len(set(names)) != len(names):
        raise ValueError(f"rungs must be non-empty with unique names, got {names}")
    if not all(_RUNG_NAME.fullmatch(name) for name in names):
        raise ValueError(f"rung names must be letters, digits, '-' or '_', got {names}")
    if any(not r.is_audio_only for r in rungs) and not info.has_video:
        raise ValueError("video rungs asked for a source without video")
    if any(r.copy_video for r in rungs[1:]) or (rungs[0].copy_video and rungs[0].is_audio_only):
        raise ValueError("only the first video rung can be copied from the source")
    if "%" in str(out_dir):
        raise ValueError(f"out_dir must not contain '%' (an HLS pattern): {out_dir}")
    if seconds <= 0:
        raise ValueError(f"segment_seconds must be positive, got {seconds}")


def x264_options(index: int, rung: Rung, preset: str | None) -> dict[str, str]:
    """The preset asked for, or the rung's own: :data:`X264_PRESET` with
    :data:`X264_PARAMS` above :data:`SMALL_RUNG_SHORT_SIDE`, :data:`X264_SMALL_RUNG_PRESET`
    up to it."""
    if preset is not None:
        return {f"preset:v:{index}": preset}
    if _short_side(rung) <= SMALL_RUNG_SHORT_SIDE:
        return {f"preset:v:{index}": X264_SMALL_RUNG_PRESET}
    return {f"preset:v:{index}": X264_PRESET, f"x264-params:v:{index}": X264_PARAMS}


def x264_profile(rung: Rung) -> str:
    """H.264 High above :data:`SMALL_RUNG_SHORT_SIDE`, Main up to it (older phones)."""
    return "high" if _short_side(rung) > SMALL_RUNG_SHORT_SIDE else "main"


def _short_side(rung: Rung) -> int:
    return min(rung.width, rung.height)


def _video_streams(source: Any, video: Sequence[Rung]) -> list[Any]:
    """Decode once, then scale in a chain: the largest encoded rung from the source, each
    smaller one from the rung before it, which costs far less than scaling every rung
    from the source (ffmpeg 5 runs the filters on one thread). A copied rung is the
    source's own stream. One stream per rung, in ``video`` order."""
    encoded = sorted((rung for rung in video if not rung.copy_video),
                     key=lambda rung: rung.width * rung.height, reverse=True)
    if not encoded:
        return [source["v:0"]]
    picture = source["v:0"].filter("bwdif", **_DEINTERLACE).filter("format", "yuv420p")
    pictures: dict[str, Any] = {}
    for rung in encoded:
        scaled = picture.filter("scale", rung.width, rung.height, flags="bicubic")
        if rung is not encoded[-1]:
            split = scaled.filter_multi_output("split", 2)
            scaled, picture = split[0], split[1]
        pictures[rung.name] = scaled.filter("setsar", 1)
    return [source["v:0"] if rung.copy_video else pictures[rung.name] for rung in video]


def _keyframe_options(video: Sequence[Rung], fps: float, seconds: float) -> dict[str, str]:
    """Keyframes at the same instants in every rung, so that segments line up.

    With a copied rung the source decides: encoded rungs get theirs where the source
    has one (``-force_key_frames source``). Otherwise every ``seconds``.
    """
    if any(rung.copy_video for rung in video):
        return {"force_key_frames:v": "source", "g:v": str(_NO_OWN_KEYFRAMES),
                "sc_threshold:v": "0"}
    gop = str(max(1, round(seconds * (fps if fps > 0 else 25))))
    return {"force_key_frames:v": f"expr:gte(t,n_forced*{seconds:g})", "g:v": gop,
            "keyint_min:v": gop, "sc_threshold:v": "0"}


def _video_options(video: Sequence[Rung], fps: float, seconds: float,
                   preset: str | None) -> dict[str, str]:
    """Per video stream: copied as it is (parameter sets in Annex B for the HLS muxer's
    CODECS), or H.264 at the rung's bitrate, with ``preset`` or the rung's own."""
    options: dict[str, str] = {}
    for i, rung in enumerate(video):
        if rung.copy_video:
            options |= {f"c:v:{i}": "copy", f"bsf:v:{i}": "h264_mp4toannexb"}
            continue
        options |= {
            f"c:v:{i}": "libx264",
            # Parameter sets in the stream's header too, where the HLS muxer reads CODECS.
            f"flags:v:{i}": "+global_header",
            **x264_options(i, rung, preset),
            f"profile:v:{i}": x264_profile(rung),
            f"b:v:{i}": f"{rung.video_kbps}k",
            f"maxrate:v:{i}": f"{rung.video_kbps * 11 // 10}k",
            f"bufsize:v:{i}": f"{rung.video_kbps * 2}k",
        }
    if any(not rung.copy_video for rung in video):
        options |= _keyframe_options(video, fps, seconds)
    return options


def audio_bitrates(rungs: Sequence[Rung]) -> list[int]:
    """The AAC encodes of a ladder, one per distinct audio bitrate, in ``rungs`` order:
    variants with the same bitrate share one."""
    return list(dict.fromkeys(rung.audio_kbps for rung in rungs))


def _audio_options(bitrates: Sequence[int]) -> dict[str, str]:
    """AAC stereo 48 kHz, one audio stream per bitrate."""
    options = {"c:a": "aac", "ac": "2", "ar": "48000"}
    for i, kbps in enumerate(bitrates):
        options[f"b:a:{i}"] = f"{kbps}k"
    return options


def variant_order(rungs: Sequence[Rung]) -> list[Rung]:
    """The ladder's variants as ffmpeg writes them: video rungs first, then audio-only."""
    return [*(r for r in rungs if not r.is_audio_only), *(r for r in rungs if r.is_audio_only)]


def _tee_value(value: str) -> str:
    """One option value of a tee output, quoted for ffmpeg's option parser."""
    return "'" + value.replace("'", "'\\''") + "'"


def _tee_escaped(text: str) -> str:
    """A tee output's whole specification, escaped for the split between outputs."""
    return "".join(f"\\{char}" if char in "\\'|" or char.isspace() else char
                   for char in text)


def _variant_output(out_dir: Path, rung: Rung, select: str, seconds: float) -> str:
    folder = out_dir / rung.name
    options = {
        "f": "hls", "select": select,
        "hls_time": f"{seconds:g}", "hls_playlist_type": "vod", "hls_list_size": "0",
        "hls_segment_type": "mpegts", "hls_flags": "independent_segments",
        "hls_segment_filename": path_arg(folder / SEGMENT_PATTERN),
        "master_pl_name": VARIANT_MASTER, "max_delay": str(_TEE_MAX_DELAY_US),
        # The timestamps as the tee muxer hands them on: each output shifting its own by
        # its first packet would give the rungs different clocks.
        "avoid_negative_ts": "disabled",
    }
    spec = ":".join(f"{key}={_tee_value(value)}" for key, value in options.items())
    return _tee_escaped(f"[{spec}]{path_arg(folder / VARIANT_PLAYLIST)}")


def _tee_outputs(out_dir: Path, rungs: Sequence[Rung], bitrates: Sequence[int],
                 seconds: float) -> str:
    """One HLS output per variant, ``rungs`` in :func:`variant_order`: video rung i takes
    ``v:i`` and audio stream k, the encode at ``bitrates[k]``, its own bitrate."""
    outputs = []
    for i, rung in enumerate(rungs):
        audio = f"a:{bitrates.index(rung.audio_kbps)}"
        select = audio if rung.is_audio_only else f"v:{i},{audio}"
        outputs.append(_variant_output(out_dir, rung, select, seconds))
    return "|".join(outputs)


def ladder_argv(
    src: MediaInput,
    info: MediaInfo,
    *,
    start: float,
    duration: float,
    rungs: Sequence[Rung],
    out_dir: Path,
    segment_seconds: float = 6.0,
    threads: int,
    preset: str | None = None,
    ffmpeg: str = "ffmpeg",
) -> list[str]:
    """One ffmpeg process: decode ``[start, start+duration)`` once, encode every rung to HLS.

    Writes ``out_dir/<rung name>/index.m3u8`` with ``seg_00000.ts``... and the variant's
    own master playlist (:data:`VARIANT_MASTER`); the folders must exist
    (:func:`ladder_folders`), and :func:`replay.media.ladder.encode_ladder` runs it and
    writes ``out_dir/master.m3u8``. Audio-only rungs are variants of their own. Video rungs
    come first in ``rungs`` order, then audio-only rungs. A first video rung with
    ``copy_video`` is the source's stream copied (``start`` must then be one of the
    source's keyframes); the others get keyframes where the source has them. The
    same builder serves a live ladder: ``segment_seconds`` and ``out_dir`` are
    its parameters. ``src`` may be our store's URL: only the span is then requested.
    ``preset``: x264's for every encoded rung (a benchmark's comparison); by default
    each rung's own (:func:`x264_options`).
    """
    _check_ladder(info, rungs, out_dir, segment_seconds)
    ordered = variant_order(rungs)
    video = [rung for rung in ordered if not rung.is_audio_only]
    bitrates = audio_bitrates(ordered)
    source = _input(src, info, threads=threads, decode_video=bool(video), start=start,
                    duration=duration)
    streams = [*_video_streams(source, video)] if video else []
    streams += [source["a:0"]] * len(bitrates)
    options = {
        **_video_options(video, info.fps, segment_seconds, preset),
        **_audio_options(bitrates),
        "threads": str(threads), "map_metadata": "-1", "map_chapters": "-1",
        # One shift of every stream's timestamps, by the earliest (an encoder's first
        # B-frame delay), so that all rungs keep one clock; the outputs shift nothing.
        "avoid_negative_ts": "make_non_negative",
    }
    outputs = _tee_outputs(out_dir, ordered, bitrates, segment_seconds)
    output = ffmpeg_python.output(*streams, outputs, format="tee", **options)
    global_options = ["-filter_complex_threads", str(threads)] if video else []
    return _compile(output, ffmpeg, global_options=global_options)


def ladder_folders(out_dir: Path, rungs: Sequence[Rung]) -> list[Path]:
    """The folders :func:`ladder_argv`'s outputs write into, which must exist before."""
    return [out_dir / rung.name for rung in variant_order(rungs)]


_STREAM_INF = "#EXT-X-STREAM-INF:"
_VERSION = re.compile(r"#EXT-X-VERSION:(\d+)")


def master_playlist(variant_masters: Sequence[tuple[str, str]]) -> str:
    """The ladder's master playlist from each variant's own (``(rung name, text)``, in
    :func:`variant_order`): their ``EXT-X-STREAM-INF`` lines, each pointing to
    ``<rung name>/index.m3u8``."""
    versions = [3]
    entries = []
    for name, text in variant_masters:
        lines = text.splitlines()
        infs = [line for line in lines if line.startswith(_STREAM_INF)]
        if len(infs) != 1:
            raise ValueError(f"variant {name}'s master playlist has {len(infs)} variants")
        versions += [int(v) for v in _VERSION.findall(text)]
        entries.append(f"{infs[0]}\n{name}/{VARIANT_PLAYLIST}\n")
    return f"#EXTM3U\n#EXT-X-VERSION:{max(versions)}\n" + "\n".join(entries)


def _own_hls(playlist: Path) -> Any:
    """One of our own HLS playlists as input: demuxer forced, file protocol and ``.ts``
    segments only."""
    return ffmpeg_python.input(path_arg(playlist), format="hls", protocol_whitelist="file",
                        allowed_extensions="ts")


def mp4_from_hls_argv(
    variant_playlist: Path, dst_mp4: Path, *, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """Remux one rung that :func:`ladder_argv` wrote into a progressive MP4 (no re-encoding).

    HLS is read only here, from our own output: the demuxer is forced, only the
    file protocol and ``.ts`` segments are allowed.
    """
    output = _own_hls(variant_playlist).output(
        path_arg(dst_mp4), format="mp4", c="copy", map="0", map_metadata=-1,
        movflags="+faststart")
    return _compile(output, ffmpeg)


def m4a_from_hls_argv(
    audio_playlist: Path, dst_m4a: Path, *, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """Remux the audio-only rung into an M4A for podcasts (AAC copied, no re-encoding).

    The same hardened HLS input as :func:`mp4_from_hls_argv`; ``-f ipod`` writes
    the M4A brand that podcast players expect, the index first for progressive download.
    """
    output = _own_hls(audio_playlist)["a:0"].output(
        path_arg(dst_m4a), format="ipod", vn=None, sn=None, dn=None, map_metadata=-1,
        movflags="+faststart", **{"c:a": "copy"})
    return _compile(output, ffmpeg)


def poster_argv(
    src: MediaInput,
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
    frame = (_input(src, info, threads=1, decode_video=True, start=at)["v:0"]
             .filter("bwdif", **_DEINTERLACE)
             .filter("scale", out_w, out_h, flags="bicubic")
             .filter("setsar", 1))
    output = frame.output(path_arg(dst_jpg), format="image2", an=None, sn=None, dn=None,
                          map_metadata=-1, update=1,
                          **{"c:v": "mjpeg", "frames:v": 1, "q:v": 3})
    return _compile(output, ffmpeg, progress=False)


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
