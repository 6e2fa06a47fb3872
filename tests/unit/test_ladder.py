"""Ladder choice: table tests and properties."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.domain.ladder import (
    DEFAULT_LADDER,
    PassthroughRules,
    Rung,
    SourceVideo,
    bandwidth,
    choose_ladder,
    is_keyframe,
    longest_gop,
    passthrough_refusal,
    with_passthrough,
)

AUDIO = Rung("audio", 0, 0, 0, 64)


def sizes(rungs: list[Rung]) -> list[tuple[str, int, int]]:
    return [(rung.name, rung.width, rung.height) for rung in rungs]


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        pytest.param(
            1920,
            1080,
            [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)],
            id="1080p-source-gets-the-whole-ladder",
        ),
        pytest.param(
            1280,
            720,
            [("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)],
            id="720p-source",
        ),
        pytest.param(854, 480, [("480p", 854, 480), ("360p", 640, 360)], id="480p-source"),
        pytest.param(640, 360, [("360p", 640, 360)], id="360p-source"),
        pytest.param(320, 240, [("240p", 320, 240)], id="below-the-ladder-keeps-its-own-size"),
        pytest.param(321, 241, [("240p", 320, 240)], id="odd-small-source-rounds-down-to-even"),
        # 720x576 as given: callers pass the *display* size (MediaInfo.display_size), so a
        # square-pixel 720x576 stays 5:4 (600x480); anamorphic PAL 16:9 arrives as 1024x576.
        pytest.param(720, 576, [("480p", 600, 480), ("360p", 450, 360)], id="720x576-square"),
        pytest.param(
            1024, 576, [("480p", 854, 480), ("360p", 640, 360)], id="720x576-anamorphic-16:9"
        ),
        # Portrait: rungs are named after the short side, like video sites do.
        pytest.param(
            1080,
            1920,
            [("1080p", 1080, 1920), ("720p", 720, 1280), ("480p", 480, 854), ("360p", 360, 640)],
            id="portrait-phone",
        ),
        pytest.param(
            1920, 800, [("720p", 1728, 720), ("480p", 1152, 480), ("360p", 864, 360)], id="scope"
        ),
    ],
)
def test_choose_ladder(width: int, height: int, expected: list[tuple[str, int, int]]) -> None:
    rungs = choose_ladder(width, height)

    assert sizes(rungs[:-1]) == expected
    assert rungs[-1].is_audio_only
    assert rungs[-1] == DEFAULT_LADDER[-1]


def test_bitrates_come_from_the_ladder() -> None:
    by_name = {rung.name: rung for rung in choose_ladder(1920, 1080)}

    assert (by_name["1080p"].video_kbps, by_name["1080p"].audio_kbps) == (5000, 128)
    assert (by_name["360p"].video_kbps, by_name["360p"].audio_kbps) == (800, 96)


@pytest.mark.parametrize(
    ("width", "height", "kbps"),
    [(320, 240, 267), (100, 56, 150)],
    ids=["scaled-by-pixel-count", "floor"],
)
def test_own_size_rung_bitrate(width: int, height: int, kbps: int) -> None:
    assert choose_ladder(width, height)[0].video_kbps == kbps


@pytest.mark.parametrize(("width", "height"), [(0, 0), (0, 720), (1280, 0)])
def test_no_picture_gets_only_audio(width: int, height: int) -> None:
    assert choose_ladder(width, height) == [DEFAULT_LADDER[-1]]


def test_custom_ladder_in_any_order() -> None:
    ladder = [AUDIO, Rung("240p", 426, 240, 400, 64), Rung("360p", 640, 360, 800, 96)]

    assert sizes(choose_ladder(640, 360, ladder)) == [
        ("360p", 640, 360),
        ("240p", 426, 240),
        ("audio", 0, 0),
    ]


def test_ladder_without_audio_rung_is_refused() -> None:
    with pytest.raises(ValueError, match="audio-only"):
        choose_ladder(1920, 1080, [Rung("720p", 1280, 720, 2800, 128)])


@pytest.mark.parametrize(
    ("rung", "expected"),
    [
        (Rung("720p", 1280, 720, 2800, 128), 3_220_800),
        (Rung("360p", 640, 360, 800, 96), 985_600),  # what ffmpeg 5.1 writes, too
        (AUDIO, 70_400),
    ],
)
def test_bandwidth_adds_a_tenth(rung: Rung, expected: int) -> None:
    assert bandwidth(rung) == expected


@given(st.integers(2, 8192), st.integers(2, 8192))
def test_rungs_are_even_never_upscaled_and_keep_the_aspect(width: int, height: int) -> None:
    rungs = choose_ladder(width, height)
    video = rungs[:-1]

    assert rungs[-1].is_audio_only
    assert video
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in video)
    assert all(2 <= r.width <= max(2, width) and 2 <= r.height <= max(2, height) for r in video)
    assert [r.height for r in video] == sorted({r.height for r in video}, reverse=True)
    for rung in video:
        if min(rung.width, rung.height) >= 64:
            assert rung.width / rung.height == pytest.approx(width / height, rel=0.05)


# -- passthrough ----------------------------------------------------------------------

TOP = Rung("1080p", 1920, 1080, 5000, 128)
FITS = SourceVideo("h264", "High", "yuv420p", "progressive", 1920, 1080, True, 25.0, 6000,
                   (10.0, 12.0, 14.0), gop=2.0)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"codec": "hevc"}, "codec hevc is not H.264"),
        ({"profile": "High 10"}, "profile High 10"),
        ({"pix_fmt": "yuv422p"}, "not 8-bit 4:2:0"),
        ({"field_order": "tt"}, "interlaced"),
        ({"fps": 120.0}, "frame rate 120"),
        ({"width": 1280, "height": 720}, "1280x720 is not the 1920x1080"),
        ({"displayed_as_stored": False}, "is not the 1920x1080"),
        ({"kbps": 8001}, "bitrate 8001 kb/s"),
        ({"kbps": 0}, "bitrate unknown"),
        ({"gop": 5.0}, "more than 4 s apart"),
        ({"gop": 0.0}, "more than 4 s apart"),
    ],
)
def test_passthrough_refused_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    refusal = passthrough_refusal(replace(FITS, **changes), TOP, PassthroughRules())

    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize(
    "changes",
    [{}, {"profile": "Main"}, {"profile": "Constrained Baseline"}, {"field_order": "unknown"},
     {"pix_fmt": "yuvj420p"}, {"kbps": 8000}, {"gop": 4.0}],
)
def test_passthrough_accepted(changes: dict[str, Any]) -> None:
    assert passthrough_refusal(replace(FITS, **changes), TOP, PassthroughRules()) is None


def test_with_passthrough_copies_the_top_rung_at_the_source_bitrate() -> None:
    rungs = with_passthrough(choose_ladder(1920, 1080), FITS)

    assert [(r.name, r.copy_video, r.video_kbps) for r in rungs] == [
        ("1080p", True, 6000), ("720p", False, 2800), ("480p", False, 1400),
        ("360p", False, 800), ("audio", False, 0)]
    assert bandwidth(rungs[0]) == (6000 + 128) * 1100


def test_with_passthrough_leaves_a_source_that_does_not_fit() -> None:
    rungs = choose_ladder(2560, 1440)
    source = replace(FITS, width=2560, height=1440)

    assert with_passthrough(rungs, source) == rungs


def test_with_passthrough_of_a_source_below_the_ladder() -> None:
    source = replace(FITS, width=320, height=180, kbps=300)

    (copied, audio) = with_passthrough(choose_ladder(320, 180), source)

    assert (copied.name, copied.width, copied.height, copied.copy_video) == (
        "180p", 320, 180, True)
    assert audio.is_audio_only


def test_longest_gop_counts_neighbours_near_the_same_time_only() -> None:
    keyframes = (0.0, 2.0, 5.5, 7.0, 50.0, 52.0)

    assert longest_gop(keyframes, [3.0, 51.0], 10.0) == 3.5
    assert longest_gop(keyframes, [3.0], 2.5) == 3.5
    assert longest_gop(keyframes, [51.0, 100.0], 10.0) == 2.0
    assert longest_gop((5.0,), [5.0], 10.0) == 0.0


@pytest.mark.parametrize(("at", "expected"), [(12.0, True), (12.0004, True), (12.01, False)])
def test_is_keyframe(at: float, expected: bool) -> None:
    assert is_keyframe(at, FITS.keyframes) is expected
