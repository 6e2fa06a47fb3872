"""ffmpeg argv builders and ffprobe parsing, tested as data (nothing runs)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from replay.domain.errors import MediaError
from replay.domain.ladder import Rung, SourceVideo, choose_ladder, with_passthrough
from replay.media import probe
from replay.media.commands import (
    VARIANT_MASTER,
    VARIANT_PLAYLIST,
    add_subtitle_renditions,
    extract_audio_argv,
    ladder_argv,
    ladder_folders,
    m4a_from_hls_argv,
    master_playlist,
    mp4_from_hls_argv,
    poster_argv,
)
from replay.media.probe import (
    MAX_PIXELS,
    MediaInfo,
    StoreUrl,
    naming,
    parse_probe,
    path_arg,
    probe_argv,
    stored_media_info,
)
from replay.media.runner import FfmpegFailed, redacted
from replay.media.source import parse_source_video, source_video_argv

SRC = Path("/data/rec/room-a.mp4")
OUT = Path("/data/out/s1")

INFO = MediaInfo(
    format_name="mov",
    duration=3600.0,
    has_video=True,
    width=1920,
    height=1080,
    fps=25.0,
    video_codec="h264",
    has_audio=True,
    audio_codec="aac",
    sample_rate=48000,
    creation_time=None,
)
AUDIO_ONLY = MediaInfo("wav", 60.0, False, 0, 0, 0.0, "", True, "pcm_s16le", 48000, None)


def value_after(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


def values_after(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def ff_token(text: str, delimiters: str) -> tuple[str, str]:
    """ffmpeg's ``av_get_token``: the text up to an unquoted, unescaped delimiter, without
    its quotes and backslashes, blanks stripped outside them; and the rest from there."""
    blanks = " \n\t\r"
    i = len(text) - len(text.lstrip(blanks))
    out: list[str] = []
    kept = 0  # characters from a quote or an escape, never stripped
    while i < len(text) and text[i] not in delimiters:
        char, i = text[i], i + 1
        if char == "\\" and i < len(text):
            out.append(text[i])
            i += 1
            kept = len(out)
        elif char == "'":
            closing = text.find("'", i)
            stop = len(text) if closing < 0 else closing
            out.extend(text[i:stop])
            i = stop if closing < 0 else stop + 1
            kept = len(out) if closing >= 0 else kept
        else:
            out.append(char)
    return "".join(out[:kept]) + "".join(out[kept:]).rstrip(blanks), text[i:]


def tee_outputs(spec: str) -> list[tuple[dict[str, str], str]]:
    """The tee muxer's outputs as ffmpeg reads them: ``(options, file)`` per output."""
    outputs = []
    while spec:
        slave, spec = ff_token(spec, "|")
        spec = spec[1:]
        assert slave.startswith("["), slave
        options: dict[str, str] = {}
        rest = slave[1:]
        while not rest.startswith("]"):
            key, rest = rest.split("=", 1)
            options[key], rest = ff_token(rest, ":]")
            rest = rest[1:] if rest.startswith(":") else rest
        outputs.append((options, rest[1:]))
    return outputs


def variants(argv: list[str]) -> dict[str, tuple[dict[str, str], str]]:
    """The ladder's tee outputs by the folder they write into."""
    assert values_after(argv, "-f")[-1] == "tee"
    return {Path(file).parent.name: (options, file) for options, file in tee_outputs(argv[-1])}


def input_options(argv: list[str]) -> list[str]:
    """Everything between the program name and ``-i`` (the first input's options)."""
    return argv[1 : argv.index("-i")]


def assert_hardened_input(argv: list[str], demuxer: str) -> None:
    options = input_options(argv)
    assert value_after(options, "-f") == demuxer
    assert value_after(options, "-protocol_whitelist") == "file"
    assert argv.count("-i") == 1


def assert_plain_data(argv: list[str]) -> None:
    assert all(isinstance(arg, str) for arg in argv)
    assert {"-nostdin", "-hide_banner", "-y"} <= set(argv)
    assert "sh" not in argv
    assert "-c" not in argv[:2]


_FILTER = re.compile(r"(\[[^\]]+\])([^\[]+)((?:\[[^\]]+\])+)")


def producer(graph: str, label: str) -> tuple[str, str]:
    """The filter of ``graph`` that outputs ``label``, and its input label (through any
    ``split``: the filter that made the picture)."""
    for chain in graph.split(";"):
        found = _FILTER.fullmatch(chain)
        assert found, f"unexpected filter chain {chain!r}"
        source, filter_, outputs = found.groups()
        if label in re.findall(r"\[[^\]]+\]", outputs):
            return producer(graph, source) if filter_.startswith("split=") else (filter_, source)
    raise AssertionError(f"{label} is not produced in {graph}")


def scaler(graph: str, label: str) -> tuple[str, str]:
    """The ``W:H`` of the scaler that feeds ``label`` through ``setsar``, and the filter
    that made the picture it scales."""
    setsar, upstream = producer(graph, label)
    scale, scaled = producer(graph, upstream)
    assert setsar == "setsar=1"
    assert scale.startswith("scale=")
    return scale.removeprefix("scale=").split(":flags")[0], producer(graph, scaled)[0]


def scaled_size(graph: str, label: str) -> str:
    return scaler(graph, label)[0]


def ladder() -> list[str]:
    rungs = choose_ladder(1920, 1080)
    return ladder_argv(SRC, INFO, start=120.5, duration=1800.0, rungs=rungs, out_dir=OUT, threads=4)


# -- probe --------------------------------------------------------------------------------


def test_probe_argv_only_lets_ffprobe_pick_real_containers() -> None:
    argv = probe_argv(SRC)

    assert argv[0] == "ffprobe"
    assert value_after(argv, "-protocol_whitelist") == "file"
    assert set(value_after(argv, "-format_whitelist").split(",")) >= {"mov", "matroska"}
    assert "hls" not in value_after(argv, "-format_whitelist").split(",")
    assert {"-show_format", "-show_streams"} <= set(argv)
    assert value_after(argv, "-print_format") == "json"
    assert argv[-1] == str(SRC)


@pytest.mark.parametrize(
    ("path", "arg"),
    [
        (Path("/abs/-x.mp4"), "/abs/-x.mp4"),
        (Path("-rf.mp4"), "./-rf.mp4"),
        (Path("http:evil.mp4"), "./http:evil.mp4"),
        (Path("rel/a.mp4"), "./rel/a.mp4"),
    ],
)
def test_paths_never_read_as_options_or_protocols(path: Path, arg: str) -> None:
    assert path_arg(path) == arg


def stream_video(**extra: Any) -> dict[str, Any]:
    return {
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "avg_frame_rate": "30000/1001",
        "r_frame_rate": "30000/1001",
        "sample_aspect_ratio": "1:1",
        **extra,
    }


def stream_audio(**extra: Any) -> dict[str, Any]:
    return {"codec_type": "audio", "codec_name": "aac", "sample_rate": "48000", **extra}


def ffprobe_json(
    *streams: dict[str, Any], format_name: str = "mov,mp4,m4a,3gp,3g2,mj2", **fmt: Any
) -> str:
    return json.dumps(
        {
            "streams": list(streams),
            "format": {"format_name": format_name, "duration": "3600.5", **fmt},
        }
    )


def test_parse_probe_reads_a_recording() -> None:
    raw = ffprobe_json(
        stream_video(),
        stream_audio(),
        tags={"creation_time": "2024-05-21T09:30:00.000000Z"},
    )

    info = parse_probe(raw, source="room-a.mp4")

    assert info.format_name == "mov"
    assert info.duration == pytest.approx(3600.5)
    assert (info.has_video, info.width, info.height) == (True, 1920, 1080)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert (info.video_codec, info.audio_codec, info.sample_rate) == ("h264", "aac", 48000)
    assert info.creation_time == datetime(2024, 5, 21, 9, 30, tzinfo=UTC)
    assert info.display_size == (1920, 1080)


@pytest.mark.parametrize(
    ("format_name", "demuxer"),
    [
        ("mov,mp4,m4a,3gp,3g2,mj2", "mov"),
        ("matroska,webm", "matroska"),
        ("mpegts", "mpegts"),
        ("wav", "wav"),
    ],
)
def test_parse_probe_keeps_a_forceable_demuxer_name(format_name: str, demuxer: str) -> None:
    raw = ffprobe_json(stream_video(), stream_audio(), format_name=format_name)

    assert parse_probe(raw, source="x").format_name == demuxer


def test_audio_only_and_cover_art() -> None:
    cover = stream_video(codec_name="mjpeg", disposition={"attached_pic": 1})
    raw = ffprobe_json(cover, stream_audio(codec_name="mp3"), format_name="mp3")

    info = parse_probe(raw, source="talk.mp3")

    assert not info.has_video
    assert (info.width, info.height, info.audio_codec) == (0, 0, "mp3")


@pytest.mark.parametrize(
    ("video", "size"),
    [
        (stream_video(width=720, height=576, sample_aspect_ratio="64:45"), (1024, 576)),
        (stream_video(side_data_list=[{"rotation": -90}]), (1080, 1920)),
        (stream_video(tags={"rotate": "90"}), (1080, 1920)),
        (stream_video(sample_aspect_ratio="0:1"), (1920, 1080)),
    ],
    ids=["anamorphic", "rotated-phone", "old-rotate-tag", "unknown-sar"],
)
def test_display_size(video: dict[str, Any], size: tuple[int, int]) -> None:
    info = parse_probe(ffprobe_json(video, stream_audio()), source="x")

    assert info.display_size == size


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, None),
        ({"creation_time": "1970-01-01T00:00:00.000000Z"}, None),
        ({"creation_time": "not a date"}, None),
        ({"creation_time": "2024-05-21 09:30:00"}, datetime(2024, 5, 21, 9, 30, tzinfo=UTC)),
    ],
)
def test_creation_time(tags: dict[str, str], expected: datetime | None) -> None:
    raw = ffprobe_json(stream_video(), stream_audio(), tags=tags)

    assert parse_probe(raw, source="x").creation_time == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "not a video or audio file"),
        ("{}", "not a video or audio file"),
        ("{not json", "not a video or audio file"),
        ('{"streams": [], "format": {}}', "not a video or audio file"),
        (ffprobe_json(stream_video()), "has no audio track"),
        (ffprobe_json(stream_video(), stream_audio(), duration="0.000000"), "no length"),
        (ffprobe_json(stream_video(), stream_audio(), duration="N/A"), "no length"),
        (ffprobe_json(stream_video(width=16384), stream_audio()), "16384x1080 pixels"),
        (ffprobe_json(stream_video(width=8192, height=8192), stream_audio()), "larger than"),
        (ffprobe_json(stream_video(width=0), stream_audio()), "no picture size"),
        (ffprobe_json(stream_video(), stream_audio(), format_name="hls"), "hls format"),
        (ffprobe_json(stream_video(), stream_audio(), format_name="concat"), "concat format"),
        (ffprobe_json(stream_video(), stream_audio(), format_name="image2"), "not playlists"),
        (ffprobe_json(stream_video(), stream_audio(), format_name="tty"), "tty format"),
        (ffprobe_json(stream_video(), stream_audio(), format_name="lavfi"), "lavfi format"),
    ],
)
def test_parse_probe_refuses_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(MediaError, match=reason) as caught:
        parse_probe(raw, source="room-a.mp4")

    assert str(caught.value).startswith("room-a.mp4")
    assert "\n" not in str(caught.value)
    assert caught.value.values[probe.SOURCE] == "room-a.mp4"
    assert str(naming(caught.value, "réunion.mp4")) == str(caught.value).replace(
        "room-a.mp4", "réunion.mp4", 1)


def test_a_refusal_names_its_file_by_a_value_that_the_face_may_change() -> None:
    """The server's path is never cut out of the text: the name is a value, replaced."""
    with pytest.raises(MediaError) as caught:
        parse_probe("{}", source="/srv/uploads/0123abcd.part")
    shown = naming(caught.value, "réunion {1}.mp4")
    assert str(shown).startswith("réunion {1}.mp4: not a video or audio file")
    assert "0123abcd" not in str(shown)
    assert naming(MediaError("no file named"), "x.mp4").values == {}


def test_stream_duration_stands_in_for_a_missing_format_duration() -> None:
    raw = ffprobe_json(stream_video(duration="12.5"), stream_audio(), duration="N/A")

    assert parse_probe(raw.encode(), source="x").duration == pytest.approx(12.5)


# -- audio --------------------------------------------------------------------------------


def test_extract_audio_is_16k_mono_wav_in_one_pass() -> None:
    argv = extract_audio_argv(SRC, INFO, Path("/tmp/a.wav"), threads=2)

    assert_plain_data(argv)
    assert_hardened_input(argv, "mov")
    assert "-ss" not in argv
    assert "-t" not in argv
    assert value_after(argv, "-ar") == "16000"
    assert value_after(argv, "-ac") == "1"
    assert value_after(argv, "-c:a") == "pcm_s16le"
    assert value_after(argv, "-map") == "0:a:0"
    assert values_after(argv, "-f")[-1] == "wav"
    assert value_after(argv, "-progress") == "pipe:1"
    assert argv[-1] == "/tmp/a.wav"


def test_extract_audio_forces_the_probed_demuxer() -> None:
    argv = extract_audio_argv(SRC, AUDIO_ONLY, Path("/tmp/a.wav"), threads=1)

    assert_hardened_input(argv, "wav")


# -- ladder -------------------------------------------------------------------------------


def test_ladder_is_one_process_with_one_hardened_input() -> None:
    argv = ladder()

    assert_plain_data(argv)
    assert argv[0] == "ffmpeg"
    assert_hardened_input(argv, "mov")
    assert value_after(input_options(argv), "-max_pixels") == str(MAX_PIXELS)
    assert "-ss" in input_options(argv)
    assert "-t" in input_options(argv)
    assert float(value_after(argv, "-ss")) == 120.5
    assert float(value_after(argv, "-t")) == 1800.0
    assert value_after(argv, "-threads") == "4"


CHAINED_SCALERS = [
    ("1920:1080", "format=yuv420p"),
    ("1280:720", "scale=1920:1080:flags=bicubic"),
    ("854:480", "scale=1280:720:flags=bicubic"),
    ("640:360", "scale=854:480:flags=bicubic"),
]


@pytest.mark.parametrize("largest_first", [True, False])
def test_ladder_decodes_once_and_scales_each_rung_from_the_next_larger(
        largest_first: bool) -> None:
    video = [rung for rung in choose_ladder(1920, 1080) if not rung.is_audio_only]
    rungs = video if largest_first else list(reversed(video))
    argv = ladder_argv(SRC, INFO, start=0, duration=60, rungs=rungs, out_dir=OUT, threads=2)
    graph = value_after(argv, "-filter_complex")

    assert graph.count("[0:v:0]") == 1
    assert graph.count("scale=") == 4
    scalers = [scaler(graph, label) for label in values_after(argv, "-map")[:4]]
    assert scalers == (CHAINED_SCALERS if largest_first else CHAINED_SCALERS[::-1])


def test_ladder_maps_each_video_rung_and_one_audio_stream_per_bitrate() -> None:
    argv = ladder()
    graph = value_after(argv, "-filter_complex")

    maps = values_after(argv, "-map")
    assert [scaled_size(graph, label) for label in maps[:4]] == [
        "1920:1080", "1280:720", "854:480", "640:360"]
    assert maps[4:] == ["0:a:0"] * 3
    assert {name: options["select"] for name, (options, _) in variants(argv).items()} == {
        "1080p": "v:0,a:0", "720p": "v:1,a:0", "480p": "v:2,a:1", "360p": "v:3,a:1",
        "audio": "a:2"}


def test_ladder_bitrates_per_stream() -> None:
    argv = ladder()

    assert value_after(argv, "-b:v:1") == "2800k"
    assert value_after(argv, "-maxrate:v:1") == "3080k"
    assert value_after(argv, "-bufsize:v:1") == "5600k"
    assert [value_after(argv, f"-b:a:{i}") for i in range(3)] == ["128k", "96k", "64k"]
    assert "-b:a:3" not in argv
    assert values_after(argv, "-c:v:0") == values_after(argv, "-c:v:3") == ["libx264"]
    assert value_after(argv, "-c:a") == "aac"


def test_ladder_gives_the_small_rungs_the_cheaper_preset() -> None:
    argv = ladder()

    assert [value_after(argv, f"-preset:v:{i}") for i in range(4)] == [
        "veryfast", "veryfast", "superfast", "superfast"]
    assert values_after(argv, "-x264-params:v:0") == values_after(argv, "-x264-params:v:1") == [
        "me=dia"]
    assert "-x264-params:v:2" not in argv
    assert "-x264-params:v:3" not in argv
    assert [value_after(argv, f"-profile:v:{i}") for i in range(4)] == [
        "high", "high", "main", "main"]


def test_ladder_preset_asked_for_applies_to_every_encoded_rung() -> None:
    argv = ladder_argv(SRC, INFO, start=0, duration=60, rungs=choose_ladder(1920, 1080),
                       out_dir=OUT, threads=2, preset="faster")

    assert [value_after(argv, f"-preset:v:{i}") for i in range(4)] == ["faster"] * 4
    assert not any(arg.startswith("-x264-params") for arg in argv)


@pytest.mark.parametrize(("fps", "gop"), [(25.0, "150"), (29.97, "180"), (50.0, "300"), (0, "150")])
def test_ladder_aligns_keyframes_on_segments(fps: float, gop: str) -> None:
    info = MediaInfo("mov", 60, True, 1280, 720, fps, "h264", True, "aac", 48000, None)
    argv = ladder_argv(
        SRC, info, start=0, duration=60, rungs=choose_ladder(1280, 720), out_dir=OUT, threads=1
    )

    assert value_after(argv, "-g:v") == gop
    assert value_after(argv, "-keyint_min:v") == gop
    assert value_after(argv, "-sc_threshold:v") == "0"
    assert value_after(argv, "-force_key_frames:v") == "expr:gte(t,n_forced*6)"
    assert {options["hls_time"] for options, _ in variants(argv).values()} == {"6"}


def test_ladder_writes_one_vod_hls_output_per_variant() -> None:
    argv = ladder()

    outputs = variants(argv)
    assert list(outputs) == ["1080p", "720p", "480p", "360p", "audio"]
    for name, (options, file) in outputs.items():
        assert file == f"/data/out/s1/{name}/index.m3u8"
        assert options["f"] == "hls"
        assert options["hls_playlist_type"] == "vod"
        assert options["hls_flags"] == "independent_segments"
        assert options["hls_segment_filename"] == f"/data/out/s1/{name}/seg_%05d.ts"
        assert options["master_pl_name"] == VARIANT_MASTER
        assert options["avoid_negative_ts"] == "disabled"
    assert value_after(argv, "-avoid_negative_ts") == "make_non_negative"
    assert argv[argv.index("-map_metadata") :][:2] == ["-map_metadata", "-1"]
    assert ladder_folders(OUT, choose_ladder(1920, 1080)) == [
        OUT / name for name in outputs]


@pytest.mark.parametrize("folder", [
    "/data/it's here", "/data/a|b", "/data/x:y=z", "/data/[tee]", "/data/back\\slash",
    "/data/ spaced ",
])
def test_tee_outputs_read_back_whatever_the_folder(folder: str) -> None:
    argv = ladder_argv(SRC, INFO, start=0, duration=60, rungs=choose_ladder(1920, 1080),
                       out_dir=Path(folder), threads=2)

    for name, (options, file) in variants(argv).items():
        assert file == f"{folder}/{name}/index.m3u8"
        assert options["hls_segment_filename"] == f"{folder}/{name}/seg_%05d.ts"


def test_encoded_rungs_carry_their_parameter_sets_in_the_header() -> None:
    argv = passthrough_ladder()

    assert "-flags:v:0" not in argv
    assert [value_after(argv, f"-flags:v:{i}") for i in (1, 2, 3)] == ["+global_header"] * 3


def stream_inf(bandwidth: int, extra: str = "") -> str:
    return (f"#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}{extra}\n"
            f"{VARIANT_PLAYLIST}\n\n")


def test_master_playlist_joins_the_variants_own_pointing_into_their_folders() -> None:
    master = master_playlist([
        ("720p", stream_inf(3220800, ',RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"')),
        ("audio", stream_inf(70400, ',CODECS="mp4a.40.2"')),
    ])

    assert master == (
        "#EXTM3U\n#EXT-X-VERSION:6\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=3220800,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n'
        "720p/index.m3u8\n\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=70400,CODECS="mp4a.40.2"\n'
        "audio/index.m3u8\n")


@pytest.mark.parametrize("text", ["#EXTM3U\n", stream_inf(1) + stream_inf(2)])
def test_master_playlist_refuses_a_variant_without_exactly_one_stream(text: str) -> None:
    with pytest.raises(ValueError, match="720p"):
        master_playlist([("720p", text)])


def test_audio_only_ladder_has_no_video_graph() -> None:
    argv = ladder_argv(
        SRC, AUDIO_ONLY, start=0, duration=60, rungs=choose_ladder(0, 0), out_dir=OUT, threads=1
    )

    assert "-filter_complex" not in argv
    assert "-max_pixels" not in argv
    assert {name: options["select"] for name, (options, _) in variants(argv).items()} == {
        "audio": "a:0"}


@pytest.mark.parametrize(
    ("info", "rungs", "out_dir", "message"),
    [
        (INFO, [], OUT, "non-empty"),
        (INFO, [Rung("a", 0, 0, 0, 64), Rung("a", 0, 0, 0, 64)], OUT, "unique"),
        (INFO, [Rung("a b", 0, 0, 0, 64)], OUT, "letters"),
        (AUDIO_ONLY, choose_ladder(640, 360), OUT, "without video"),
        (INFO, choose_ladder(640, 360), Path("/out/100%"), "'%'"),
    ],
)
def test_ladder_refuses_bad_requests(
    info: MediaInfo, rungs: list[Rung], out_dir: Path, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ladder_argv(SRC, info, start=0, duration=1, rungs=rungs, out_dir=out_dir, threads=1)


# -- mp4, poster --------------------------------------------------------------------------


def test_mp4_remux_reads_only_our_own_hls() -> None:
    argv = mp4_from_hls_argv(OUT / "720p" / "index.m3u8", OUT / "720p.mp4")

    assert_plain_data(argv)
    assert_hardened_input(argv, "hls")
    assert value_after(argv, "-allowed_extensions") == "ts"
    assert value_after(argv, "-c") == "copy"
    assert value_after(argv, "-movflags") == "+faststart"
    assert argv[-1] == "/data/out/s1/720p.mp4"


def test_m4a_remux_copies_the_audio_rung_for_podcasts() -> None:
    argv = m4a_from_hls_argv(OUT / "audio" / "index.m3u8", OUT / "audio.m4a")

    assert_plain_data(argv)
    assert_hardened_input(argv, "hls")
    assert value_after(argv, "-allowed_extensions") == "ts"
    assert value_after(argv, "-map") == "0:a:0"
    assert value_after(argv, "-c:a") == "copy"
    assert "-vn" in argv
    assert value_after(argv, "-movflags") == "+faststart"
    assert values_after(argv, "-f") == ["hls", "ipod"]
    assert argv[-1] == "/data/out/s1/audio.m4a"


@pytest.mark.parametrize(
    ("info", "width", "at", "scale", "seek"),
    [
        (INFO, 1280, 30.0, "scale=1280:720", "30.000"),
        (INFO, 4000, -5.0, "scale=1920:1080", "0.000"),
        (INFO, 1280, 99999.0, "scale=1280:720", "3599.000"),
        (
            MediaInfo(
                "mov", 60, True, 1920, 1080, 30, "h264", True, "aac", 48000, None, rotation=90
            ),
            1280,
            10.0,
            "scale=1080:1920",
            "10.000",
        ),
    ],
    ids=["downscale", "no-upscale", "clamped-to-the-end", "rotated"],
)
def test_poster(info: MediaInfo, width: int, at: float, scale: str, seek: str) -> None:
    argv = poster_argv(SRC, info, at=at, dst_jpg=OUT / "poster.jpg", width=width)

    assert_plain_data(argv)
    assert_hardened_input(argv, "mov")
    assert "-max_pixels" in input_options(argv)
    assert float(value_after(input_options(argv), "-ss")) == float(seek)
    graph = value_after(argv, "-filter_complex")
    assert graph.startswith("[0:v:0]bwdif=")
    assert scale in graph
    assert producer(graph, value_after(argv, "-map"))[0] == "setsar=1"
    assert value_after(argv, "-frames:v") == "1"
    assert value_after(argv, "-update") == "1"
    assert argv[-1] == "/data/out/s1/poster.jpg"


def test_poster_needs_video() -> None:
    with pytest.raises(ValueError, match="video"):
        poster_argv(SRC, AUDIO_ONLY, at=1, dst_jpg=OUT / "p.jpg")


# -- master playlist ----------------------------------------------------------------------

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-STREAM-INF:BANDWIDTH=985600,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=70400,CODECS="mp4a.40.2"
audio/index.m3u8
"""

RENDITIONS = [
    ("fr", "Français", "subs/fr/index.m3u8", True),
    ("en", "English", "subs/en/index.m3u8", False),
]


def test_add_subtitle_renditions() -> None:
    text = add_subtitle_renditions(MASTER, RENDITIONS)
    lines = text.splitlines()

    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:")]
    assert media == [
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Français",LANGUAGE="fr",'
        'DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subs/fr/index.m3u8"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",'
        'DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs/en/index.m3u8"',
    ]
    assert lines.index(media[-1]) < min(
        i for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF")
    )
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF")]
    assert all(line.endswith(',SUBTITLES="subs"') for line in variants)
    assert 'CODECS="avc1.4d401e,mp4a.40.2"' in variants[0]
    assert "360p/index.m3u8" in lines
    assert "audio/index.m3u8" in lines


def test_add_subtitle_renditions_is_idempotent_and_removable() -> None:
    once = add_subtitle_renditions(MASTER, RENDITIONS)

    assert add_subtitle_renditions(once, RENDITIONS) == once
    assert add_subtitle_renditions(once, []) == MASTER


@pytest.mark.parametrize("bad", ['Fr"ench', "two\nlines", ""])
def test_subtitle_names_cannot_break_the_playlist(bad: str) -> None:
    with pytest.raises(ValueError, match="quotes or newlines"):
        add_subtitle_renditions(MASTER, [("fr", bad, "subs/fr.m3u8", True)])


# -- ladder with the top rung copied --------------------------------------------------------

SOURCE = SourceVideo("h264", "High", "yuv420p", "progressive", 1920, 1080, True, 25.0, 6000,
                     (118.5, 120.5, 122.5), gop=2.0)


def passthrough_ladder(**kwargs: Any) -> list[str]:
    rungs = with_passthrough(choose_ladder(1920, 1080), SOURCE)
    return ladder_argv(SRC, INFO, start=120.5, duration=1800.0, rungs=rungs, out_dir=OUT,
                       threads=2, **kwargs)


def test_copied_rung_is_the_source_stream_and_the_others_are_scaled_from_one_decode() -> None:
    argv = passthrough_ladder()
    graph = value_after(argv, "-filter_complex")

    assert_hardened_input(argv, "mov")
    maps = values_after(argv, "-map")
    assert maps[0] == "0:v:0"
    assert [scaler(graph, label) for label in maps[1:4]] == [
        ("1280:720", "format=yuv420p"),
        ("854:480", "scale=1280:720:flags=bicubic"),
        ("640:360", "scale=854:480:flags=bicubic"),
    ]
    assert "1920:1080" not in graph
    assert graph.count("[0:v:0]") == 1
    assert maps[4:] == ["0:a:0"] * 3


def test_copied_rung_is_not_encoded() -> None:
    argv = passthrough_ladder()

    assert value_after(argv, "-c:v:0") == "copy"
    assert value_after(argv, "-bsf:v:0") == "h264_mp4toannexb"
    assert "-b:v:0" not in argv
    assert "-preset:v:0" not in argv
    assert [value_after(argv, f"-c:v:{i}") for i in (1, 2, 3)] == ["libx264"] * 3
    assert value_after(argv, "-b:v:1") == "2800k"


def test_encoded_rungs_take_their_keyframes_from_the_source() -> None:
    argv = passthrough_ladder()

    assert value_after(argv, "-force_key_frames:v") == "source"
    assert value_after(argv, "-sc_threshold:v") == "0"
    assert int(value_after(argv, "-g:v")) >= 10_000
    assert "-keyint_min:v" not in argv


def test_segment_length_and_layout_are_parameters() -> None:
    """What a live ladder needs: 2-second segments and an output folder of its own."""
    argv = passthrough_ladder(segment_seconds=2.0)

    options, file = variants(argv)["1080p"]
    assert options["hls_time"] == "2"
    assert options["select"] == "v:0,a:0"
    assert file == "/data/out/s1/1080p/index.m3u8"


def test_only_the_top_rung_can_be_copied() -> None:
    rungs = choose_ladder(1920, 1080)
    rungs[1] = replace(rungs[1], copy_video=True)

    with pytest.raises(ValueError, match="only the first video rung"):
        ladder_argv(SRC, INFO, start=0, duration=1, rungs=rungs, out_dir=OUT, threads=1)


# -- the source's video details and keyframes ---------------------------------------------


def test_source_video_argv_reads_packet_headers_near_the_cuts_only() -> None:
    argv = source_video_argv(SRC, INFO, [300.0, 5.0])

    assert argv[0] == "ffprobe"
    assert value_after(argv, "-f") == "mov"
    assert value_after(argv, "-protocol_whitelist") == "file"
    assert value_after(argv, "-select_streams") == "v:0"
    assert value_after(argv, "-read_intervals") == "0.000%15.000,290.000%310.000"
    assert "packet=pts_time" in value_after(argv, "-show_entries")
    assert "-show_frames" not in argv
    assert argv[-1] == str(SRC)


def packet(pts: float, key: bool, size: int = 25_000, duration: float = 0.04) -> dict[str, str]:
    return {"pts_time": f"{pts:.6f}", "duration_time": f"{duration:.6f}", "size": str(size),
            "flags": "K_" if key else "__"}


def source_json(stream: dict[str, str], packets: list[dict[str, str]], start: str = "0.000000"
                ) -> str:
    return json.dumps({"streams": [stream], "packets": packets,
                       "format": {"start_time": start}})


H264_HIGH = {"codec_name": "h264", "profile": "High", "pix_fmt": "yuv420p",
             "field_order": "progressive", "bit_rate": "6000123"}


def test_parse_source_video() -> None:
    packets = [packet(1.08 + 0.04 * i, key=i % 50 == 0) for i in range(120)]

    source = parse_source_video(source_json(H264_HIGH, packets, start="0.080000"), INFO,
                                around=[3.0])

    assert (source.codec, source.profile, source.pix_fmt, source.field_order) == (
        "h264", "High", "yuv420p", "progressive")
    assert (source.width, source.height, source.fps, source.kbps) == (1920, 1080, 25.0, 6000)
    assert source.keyframes == (1.0, 3.0, 5.0)  # from the recording's start, not the file's
    assert source.gop == pytest.approx(2.0)
    assert source.displayed_as_stored


def test_bitrate_from_the_packets_when_the_container_does_not_say() -> None:
    stream = {k: v for k, v in H264_HIGH.items() if k != "bit_rate"}
    packets = [packet(0.04 * i, key=i == 0, size=20_000) for i in range(50)]

    assert parse_source_video(source_json(stream, packets), INFO).kbps == 4000


@pytest.mark.parametrize(
    "info",
    [replace(INFO, rotation=180), replace(INFO, sample_aspect=Fraction(4, 3))],
    ids=["rotated", "anamorphic"],
)
def test_a_source_shown_otherwise_than_stored_is_flagged(info: MediaInfo) -> None:
    assert not parse_source_video(source_json(H264_HIGH, []), info).displayed_as_stored


# -- the original read from our object store (a presigned URL) ---------------------------

URL = StoreUrl("https://bucket.s3.example.org/_private/originals/abc.mp4"
               "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd")


def assert_url_input(argv: list[str], demuxer: str) -> None:
    options = input_options(argv)
    assert value_after(options, "-f") == demuxer
    assert value_after(options, "-protocol_whitelist") == "https,http,tcp,tls"
    assert "file" not in value_after(options, "-protocol_whitelist").split(",")
    assert argv.count("-i") == 1
    assert value_after(argv, "-i") == URL.address


def test_ladder_reads_only_its_span_of_a_store_url() -> None:
    argv = ladder_argv(URL, INFO, start=120.5, duration=1800.0, rungs=choose_ladder(1920, 1080),
                       out_dir=OUT, threads=4)

    assert_plain_data(argv)
    assert_url_input(argv, "mov")
    # The seek is the input's (before -i): ffmpeg asks for the span's bytes by range.
    assert float(value_after(input_options(argv), "-ss")) == 120.5
    assert float(value_after(input_options(argv), "-t")) == 1800.0
    assert "-ss" not in argv[argv.index("-i"):]
    assert value_after(input_options(argv), "-max_pixels") == str(MAX_PIXELS)
    assert value_after(input_options(argv), "-reconnect") == "1"


def test_a_path_is_still_read_through_the_file_protocol_only() -> None:
    argv = ladder()

    assert_hardened_input(argv, "mov")
    assert "-reconnect" not in argv
    assert value_after(argv, "-i") == str(SRC)


def test_poster_and_keyframes_read_a_store_url_too() -> None:
    poster = poster_argv(URL, INFO, at=30.0, dst_jpg=OUT / "poster.jpg")
    assert_url_input(poster, "mov")
    assert float(value_after(input_options(poster), "-ss")) == 30.0

    probe = source_video_argv(URL, INFO, [300.0])
    assert value_after(probe, "-f") == "mov"
    assert value_after(probe, "-protocol_whitelist") == "https,http,tcp,tls"
    assert value_after(probe, "-read_intervals") == "290.000%310.000"
    assert probe[-1] == URL.address


@pytest.mark.parametrize("address", [
    "file:///etc/passwd", "concat:a.mp4|b.mp4", "-i", "/data/rec/room-a.mp4",
    "subfile,,start,0,end,0,,:https://x/y", "https://x/y z", "https://x/y\nhttp://z",
    "HTTPS://x/y", "data:video/mp4;base64,AAAA"])
def test_a_store_url_is_an_http_address_and_nothing_else(address: str) -> None:
    with pytest.raises(ValueError, match="http"):
        StoreUrl(address)


def test_a_store_url_keeps_its_signature_out_of_messages() -> None:
    assert str(URL) == "https://bucket.s3.example.org/_private/originals/abc.mp4"
    assert "Signature" not in f"{URL}"


# -- the probe as the analysis stored it ------------------------------------------------------


def stored(info: MediaInfo) -> dict[str, Any]:
    """As `Store.set_probe` keeps it, read back."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(info), default=str))
    return data


@pytest.mark.parametrize("info", [
    INFO,
    AUDIO_ONLY,
    replace(INFO, creation_time=datetime(2024, 5, 21, 9, 30, tzinfo=UTC),
            sample_aspect=Fraction(4, 3), rotation=90, fps=29.97),
], ids=["video", "audio-only", "dated-anamorphic-rotated"])
def test_the_stored_probe_gives_the_same_media_info(info: MediaInfo) -> None:
    assert stored_media_info(stored(info)) == info


@pytest.mark.parametrize("change", [
    {"format_name": "hls"},  # never forced on an input
    {"format_name": "concat"},
    {"duration": 0},
    {"width": 100_000, "height": 100_000},
    {"has_video": "yes"},
    {"sample_aspect": "0"},
    {"creation_time": "yesterday"},
    {"width": None},
])
def test_a_stored_probe_that_is_not_usable_means_probe_again(change: dict[str, Any]) -> None:
    assert stored_media_info({**stored(INFO), **change}) is None


@pytest.mark.parametrize("data", [None, {}, {"format_name": "mov"}])
def test_nothing_stored_means_probe_again(data: dict[str, Any] | None) -> None:
    assert stored_media_info(data) is None


def test_a_failure_reading_a_store_url_does_not_tell_its_signature() -> None:
    said = f"{URL.address}: Server returned 403 Forbidden (access denied)"
    error = FfmpegFailed("ffmpeg failed with exit status 1", ["ffmpeg", "-i", URL.address],
                         [said, "Error opening input files: Forbidden"])

    assert "Signature" not in str(error)
    assert "Signature" not in " ".join(error.argv)
    assert f"{URL}?…: Server returned 403 Forbidden" in str(error)
    assert redacted("/data/rec/room-a.mp4: Invalid data") == "/data/rec/room-a.mp4: Invalid data"
