"""The live's command lines and configuration, as data: nginx, the take's ffmpeg, SRT."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.domain.ladder import Rung
from replay.live.commands import (
    LivePlan,
    LiveSource,
    concat_argv,
    ffconcat,
    live_argv,
    parse_stream_probe,
    plan_ladder,
    srt_listen_url,
    srt_relay_argv,
)
from replay.live.nginx import NginxConfig, nginx_config, pull_url
from replay.live.take import parse_segment_list

CONFIG = NginxConfig("0.0.0.0", 1935, "http://127.0.0.1:8080/live/hooks/s3cret",
                     Path("/var/lib/replay/live/nginx"),
                     Path("/usr/lib/nginx/modules/ngx_rtmp_module.so"))


@pytest.mark.parametrize("needle", [
    "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;",
    "daemon off;",
    "master_process off;",
    "listen 0.0.0.0:1935;",
    "on_publish http://127.0.0.1:8080/live/hooks/s3cret/publish;",
    "on_publish_done http://127.0.0.1:8080/live/hooks/s3cret/publish_done;",
    "on_update http://127.0.0.1:8080/live/hooks/s3cret/update;",
    "allow play 127.0.0.1;",
    "deny play all;",
    "record off;",
    "pid /var/lib/replay/live/nginx/nginx.pid;",
])
def test_nginx_config_has(needle: str) -> None:
    assert needle in nginx_config(CONFIG).splitlines() or \
        needle in [line.strip() for line in nginx_config(CONFIG).splitlines()]


@pytest.mark.parametrize("bad", [
    NginxConfig("0.0.0.0", 1935, "http://x/hooks; evil", Path("/p"), Path("/m.so")),
    NginxConfig("0.0.0.0", 70000, "http://x/hooks", Path("/p"), Path("/m.so")),
    NginxConfig("0.0.0.0", 1935, "http://x/hooks", Path("/p q"), Path("/m.so")),
])
def test_nginx_config_refuses_what_would_break_it(bad: NginxConfig) -> None:
    with pytest.raises(ValueError, match=r"must be|out of range"):
        nginx_config(bad)


@pytest.mark.parametrize(("source", "names", "copy_top"), [
    (LiveSource("h264", 1920, 1080, 25, True), ["1080p", "720p", "480p", "360p", "audio"], True),
    (LiveSource("hevc", 1920, 1080, 25, True), ["1080p", "720p", "480p", "360p", "audio"], False),
    (LiveSource("h264", 1280, 720, 30, True), ["720p", "480p", "360p", "audio"], True),
    (LiveSource("h264", 3840, 2160, 30, True), ["1080p", "720p", "480p", "360p", "audio"],
     False),
    (LiveSource("h264", 1440, 1080, 25, True), ["1080p", "720p", "480p", "360p", "audio"], True),
    (LiveSource("", 0, 0, 0, True), ["audio"], False),
])
def test_plan_copies_the_source_only_when_it_fits_the_top_rung(
        source: LiveSource, names: list[str], copy_top: bool) -> None:
    plan = plan_ladder(source)
    assert [r.name for r in plan.rungs] == names
    assert plan.copy_top is copy_top


def _outputs(argv: list[str]) -> list[str]:
    return [arg for arg in argv if arg.endswith("%06d.ts") or arg == "pipe:1"]


def test_live_argv_decodes_once_copies_the_top_and_encodes_the_rest() -> None:
    plan = plan_ladder(LiveSource("h264", 1280, 720, 25, True))
    argv = live_argv("rtmp://127.0.0.1:1935/live/k", plan, Path("/w"), segment_seconds=2,
                     threads=2)
    assert argv.count("-i") == 1
    assert _outputs(argv) == ["/w/720p/%06d.ts", "/w/480p/%06d.ts", "/w/360p/%06d.ts",
                              "/w/audio/%06d.ts", "/w/archive/%06d.ts", "pipe:1"]
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.split(";") == [
        "[0:v:0]bwdif=mode=send_frame:deint=interlaced,format=yuv420p,"
        "scale=854:480:flags=bicubic,setsar=1,split=2[v0][c0]",
        "[c0]scale=640:360:flags=bicubic,setsar=1[v1]",
    ]
    assert argv.count("copy") == 2  # the top rung's video, the archive
    assert argv.count("source") == 2  # lower rungs take the source's keyframes
    assert argv[argv.index("-segment_time") + 1] == "2"
    pcm = argv[-12:]
    assert pcm[pcm.index("-ar") + 1] == "16000"
    assert pcm[pcm.index("-f") + 1] == "s16le"


def _option_of(argv: list[str], option: str, output: str) -> str:
    """``option``'s value among the options of ``output`` (those after the output before)."""
    end = argv.index(output)
    begin = max((i for i, arg in enumerate(argv[:end]) if arg.endswith("%06d.ts")), default=0)
    options = argv[begin:end]
    return options[options.index(option) + 1]


def test_live_rungs_scale_in_a_chain_whatever_their_order_and_get_x264_settings_by_size(
        ) -> None:
    rungs = (Rung("360p", 640, 360, 800, 96), Rung("1080p", 1920, 1080, 5000, 128),
             Rung("720p", 1280, 720, 2800, 128), Rung("audio", 0, 0, 0, 64))
    argv = live_argv("srt://x", LivePlan(rungs, False), Path("/w"), segment_seconds=2,
                     threads=2)
    graph = argv[argv.index("-filter_complex") + 1].split(";")
    assert [chain.split("scale=")[1].split(":flags")[0] for chain in graph] == [
        "1920:1080", "1280:720", "640:360"]
    assert graph[1].startswith("[c1]")
    assert graph[2].startswith("[c2]")
    assert graph[2].endswith("[v0]")
    assert _option_of(argv, "-map", "/w/360p/%06d.ts") == "[v0]"
    assert _option_of(argv, "-preset:v:0", "/w/360p/%06d.ts") == "superfast"
    assert _option_of(argv, "-preset:v:0", "/w/1080p/%06d.ts") == "veryfast"
    assert _option_of(argv, "-x264-params:v:0", "/w/720p/%06d.ts") == "me=dia"
    assert _option_of(argv, "-tune", "/w/720p/%06d.ts") == "zerolatency"


def test_live_argv_encodes_every_rung_on_a_fixed_grid_without_a_copy() -> None:
    plan = LivePlan((Rung("720p", 1280, 720, 2800, 128), Rung("audio", 0, 0, 0, 64)), False)
    argv = live_argv("srt://x", plan, Path("/w"), segment_seconds=2, threads=1)
    assert "expr:gte(t,n_forced*2)" in argv
    assert argv.count("libx264") == 1


def test_srt_listener_relays_into_nginx() -> None:
    listen = srt_listen_url("0.0.0.0", 9001, "a" * 24)
    assert listen.startswith("srt://0.0.0.0:9001?mode=listener&passphrase=" + "a" * 24)
    argv = srt_relay_argv(listen, pull_url(1935, "key"))
    assert argv[argv.index("-i") + 1] == listen
    assert argv[-1] == "rtmp://127.0.0.1:1935/live/key"
    with pytest.raises(ValueError, match="10 to 79"):
        srt_listen_url("0.0.0.0", 9001, "short")


def test_segment_list_rows_and_stream_probe() -> None:
    rows = parse_segment_list("000000.ts,0.000000,2.042667\n000001.ts,2.042667,4.04\nbad\n")
    assert [(r.name, r.start, r.end) for r in rows] == [
        ("000000.ts", 0.0, 2.042667), ("000001.ts", 2.042667, 4.04)]
    source = parse_stream_probe(b'{"streams": [{"codec_type": "video", "codec_name": "h264",'
                                b' "width": 1920, "height": 1080, "avg_frame_rate": "25/1"},'
                                b' {"codec_type": "audio"}]}')
    assert source == LiveSource("h264", 1920, 1080, 25.0, True)


def test_concat_lists_segments_and_remuxes_without_encoding() -> None:
    assert ffconcat([Path("/a/1.ts"), Path("/a/2.ts")]).splitlines() == [
        "ffconcat version 1.0", "file '/a/1.ts'", "file '/a/2.ts'"]
    argv = concat_argv(Path("/l.ffconcat"), Path("/o.m4a"), audio_only=True,
                       output_format="ipod")
    assert "-c:a" in argv
    assert argv[argv.index("-c:a") + 1] == "copy"
    assert "libx264" not in argv
    assert "aac" not in argv
    with pytest.raises(ValueError, match="unsupported"):
        ffconcat([Path("/it's.ts")])
