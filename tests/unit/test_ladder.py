"""Ladder choice: table tests and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.domain.ladder import DEFAULT_LADDER, Rung, bandwidth, choose_ladder

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
