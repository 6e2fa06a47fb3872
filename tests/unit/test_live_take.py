"""A take's listeners never hold the live up: PCM is handed over without waiting, a
listener that falls behind loses chunks, and one that fails is only logged."""

from __future__ import annotations

import logging

import pytest

from replay.live.take import LISTENER_BACKLOG, PcmFanout, heard


async def test_every_listener_gets_the_pcm_in_order_until_the_end() -> None:
    fanout = PcmFanout()
    first, second = fanout.subscribe(), fanout.subscribe()
    for n in range(5):
        fanout.publish(bytes([n]))
    fanout.close()
    assert [chunk async for chunk in first] == [bytes([n]) for n in range(5)]
    assert [chunk async for chunk in second] == [bytes([n]) for n in range(5)]


async def test_a_listener_behind_loses_chunks_and_the_live_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    fanout = PcmFanout()
    slow = fanout.subscribe()
    for n in range(LISTENER_BACKLOG + 10):
        fanout.publish(n.to_bytes(2, "big"))  # never waits
    fanout.close()
    received = [chunk async for chunk in slow]  # and it still hears the end
    assert 0 < len(received) < LISTENER_BACKLOG + 10
    assert received == sorted(received), "what it gets comes in order"
    assert "fell behind" in caplog.text


async def test_a_failing_listener_is_logged_not_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("captions crashed")

    with caplog.at_level(logging.ERROR, logger="replay.live"):
        await heard(broken())
    assert "a take listener failed" in caplog.text
    assert "captions crashed" in caplog.text
