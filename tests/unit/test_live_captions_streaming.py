"""The local-agreement policy of the live captions: tables and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.domain.streaming import (
    PROMPT_CHARS,
    LocalAgreement,
    StreamingParams,
    ends_sentence,
    normalise,
)
from replay.domain.transcript import Word


def words(text: str, start: float = 0.0, per_word: float = 0.5) -> list[Word]:
    """Whisper-like words: leading spaces, each `per_word` long (a small gap after)."""
    return [Word(round(start + i * per_word, 3), round(start + (i + 0.9) * per_word, 3),
                 " " + token) for i, token in enumerate(text.split())]


def texts(found: list[Word]) -> str:
    return "".join(word.text for word in found).strip()


# --- agreement ------------------------------------------------------------------------


def test_a_first_pass_commits_nothing() -> None:
    policy = LocalAgreement()
    assert policy.insert(words("bonjour à toutes"), audio_end=1.5) == []
    assert texts(policy.tentative) == "bonjour à toutes"


def test_two_passes_commit_their_longest_common_prefix() -> None:
    policy = LocalAgreement()
    policy.insert(words("bonjour à toutes et"), audio_end=2.0)
    committed = policy.insert(words("bonjour à toutes les villes"), audio_end=2.5)
    assert texts(committed) == "bonjour à toutes"
    assert texts(policy.tentative) == "les villes"
    assert policy.last_end == committed[-1].end


def test_the_next_pass_commits_from_where_the_last_stopped() -> None:
    policy = LocalAgreement()
    policy.insert(words("bonjour à toutes et"), audio_end=2.0)
    policy.insert(words("bonjour à toutes les villes"), audio_end=2.5)
    committed = policy.insert(words("bonjour à toutes les villes neutres"), audio_end=3.0)
    assert texts(committed) == "les villes"


@pytest.mark.parametrize(
    ("first", "second", "agreed"),
    [
        pytest.param("Mission Villes,", "mission villes.", "mission villes.", id="case-punct"),
        pytest.param("la métropole", "la metropole", "la", id="accents-matter"),
        pytest.param("m'ont été", "m'ont été", "m'ont été", id="elision"),
        pytest.param("deux mille", "2000", "", id="different-words"),
    ],
)
def test_agreement_ignores_case_and_punctuation_only(first: str, second: str,
                                                     agreed: str) -> None:
    policy = LocalAgreement()
    policy.insert(words(first), audio_end=3.0)
    assert texts(policy.insert(words(second), audio_end=3.5)) == agreed


def test_the_newest_pass_gives_the_committed_words_text_and_times() -> None:
    policy = LocalAgreement()
    policy.insert([Word(1.0, 1.4, " villes")], audio_end=2.0)
    assert policy.insert([Word(1.05, 1.5, " Villes."), Word(1.6, 1.9, " Le")],
                         audio_end=2.5) == [Word(1.05, 1.5, " Villes.")]


def test_words_before_the_last_committed_one_are_not_heard_again() -> None:
    policy = LocalAgreement()
    policy.insert(words("un deux trois"), audio_end=2.0)
    policy.insert(words("un deux trois quatre"), audio_end=2.5)
    # The buffer now starts late in « trois »: Whisper hears « trois » again, later.
    again = [Word(1.05, 1.4, " trois"), Word(1.5, 1.9, " quatre"), Word(2.0, 2.4, " cinq")]
    assert texts(policy.insert(again, audio_end=3.0)) == "quatre"
    assert texts(policy.tentative) == "cinq"


def test_a_repeat_of_the_last_committed_words_is_dropped() -> None:
    policy = LocalAgreement()
    policy.insert(words("la table ronde"), audio_end=2.0)
    policy.insert(words("la table ronde de"), audio_end=2.5)
    # Whisper places the same two words after the committed end (shifted timestamps).
    shifted = words("table ronde de la mission", start=1.45, per_word=0.3)
    assert texts(policy.insert(shifted, audio_end=3.0)) == "de"
    assert texts(policy.tentative) == "la mission"


def test_a_word_too_old_to_wait_is_committed_without_agreement() -> None:
    policy = LocalAgreement(StreamingParams(commit_after=3.0))
    policy.insert(words("bonjour euh mesdames"), audio_end=2.0)
    committed = policy.insert(words("bonjour à mesdames et messieurs"), audio_end=4.0)
    # « bonjour » agreed; « à » (ends 0.95 s) and « mesdames » (1.45 s) are older than
    # 4.0 - 3.0 = 1.0 s? Only « à » is.
    assert texts(committed) == "bonjour à"
    assert texts(policy.tentative) == "mesdames et messieurs"


def test_flush_commits_the_last_tentative_words() -> None:
    policy = LocalAgreement()
    policy.insert(words("merci beaucoup"), audio_end=1.5)
    assert texts(policy.flush()) == "merci beaucoup"
    assert policy.tentative == []
    assert policy.flush() == []


def test_empty_or_punctuation_words_are_never_committed() -> None:
    policy = LocalAgreement()
    heard = [Word(0.0, 0.4, " oui"), Word(0.4, 0.5, " ..."), Word(0.5, 0.9, " non")]
    policy.insert(heard, audio_end=1.5)
    assert texts(policy.insert(heard, audio_end=2.0)) == "oui non"


# --- settled time ---------------------------------------------------------------------


def test_settled_is_the_first_tentative_word_or_the_margin_before_the_end() -> None:
    policy = LocalAgreement(StreamingParams(settle_margin=1.0))
    assert policy.settled(5.0) == 4.0
    policy.insert(words("un deux", start=3.0), audio_end=5.0)
    assert policy.settled(5.0) == 3.0
    policy.insert(words("un deux", start=3.0), audio_end=5.5)
    assert policy.settled(5.5) == pytest.approx(4.5)


def test_settled_never_goes_back_before_a_committed_word() -> None:
    policy = LocalAgreement(StreamingParams(settle_margin=1.0))
    policy.insert(words("un deux trois", start=3.0), audio_end=4.6)
    policy.insert(words("un deux trois", start=3.0), audio_end=4.6)
    assert policy.settled(4.6) == policy.last_end


# --- trimming and context ---------------------------------------------------------------


def committed_policy(text: str, params: StreamingParams | None = None) -> LocalAgreement:
    policy = LocalAgreement(params or StreamingParams())
    spoken = words(text)
    policy.insert(spoken, audio_end=spoken[-1].end + 0.5)
    policy.insert(spoken, audio_end=spoken[-1].end + 1.0)
    return policy


def test_a_short_buffer_is_kept_whole() -> None:
    policy = committed_policy("Bonjour. Merci.")
    assert policy.trim_point(0.0, 5.0) is None


def test_a_long_buffer_is_cut_at_the_last_committed_sentence_end() -> None:
    params = StreamingParams(trim_after=4.0, max_buffer=20.0)
    policy = committed_policy("Bonjour à tous. Nous parlons de climat. Et de", params)
    end_of_second = policy.in_buffer[6].end
    assert policy.in_buffer[6].text == " climat."
    assert policy.trim_point(0.0, 6.0) == end_of_second


def test_without_a_sentence_end_the_buffer_is_cut_at_the_last_committed_word() -> None:
    params = StreamingParams(step=1.0, trim_after=4.0, max_buffer=8.0)
    policy = committed_policy("un deux trois quatre cinq six sept huit", params)
    assert policy.trim_point(0.0, 7.5) == policy.in_buffer[-1].end


def test_without_any_committed_word_the_oldest_audio_is_given_up() -> None:
    params = StreamingParams(step=1.0, trim_after=4.0, max_buffer=8.0)
    policy = LocalAgreement(params)
    assert policy.trim_point(2.0, 10.0) == pytest.approx(3.0)
    assert policy.window_start(0.0, 10.0) == 2.0
    assert policy.window_start(5.0, 10.0) == 5.0


def test_forgotten_words_become_the_prompt_and_it_stays_short() -> None:
    policy = committed_policy("Bonjour à toutes et à tous. " * 20)
    assert policy.prompt() == ""
    policy.forget_before(policy.in_buffer[-1].end)
    assert policy.in_buffer == []
    assert len(policy.prompt()) <= PROMPT_CHARS
    assert policy.prompt().endswith("et à tous.")


def test_forgetting_drops_the_tentative_words_whose_audio_is_gone() -> None:
    policy = LocalAgreement()
    policy.insert(words("un deux trois"), audio_end=2.0)
    policy.forget_before(0.6)
    assert texts(policy.tentative) == "trois"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"step": 0.0},
        {"step": 30.0, "max_buffer": 24.0},
        {"trim_after": 25.0, "max_buffer": 24.0},
        {"max_buffer": 31.0, "trim_after": 12.0},
        {"commit_after": 0.5, "step": 1.0},
        {"settle_margin": -1.0},
    ],
)
def test_params_refuse_impossible_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"need|must"):
        StreamingParams(**kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" Villes.", True), (" vraiment ?", True), (" « Merci ! »", True), (" et", False),
     (" 3,5", False), (" fin…", True)],
)
def test_sentence_ends(text: str, expected: bool) -> None:
    assert ends_sentence(Word(0, 1, text)) is expected


def test_normalise() -> None:
    assert normalise(" « Mission-Villes ! »") == "missionvilles"
    assert normalise(" Élysée") == "élysée"


# --- property: a perfect recogniser loses and repeats nothing --------------------------


def heard_in(script: list[Word], start: float, end: float) -> list[Word]:
    """What a perfect recogniser hears in [start, end]: whole words, and a word cut by the
    window's end as a guess that differs from pass to pass."""
    heard = []
    for word in script:
        if word.start >= start and word.end <= end:
            heard.append(word)
        elif word.start >= start and word.start < end:
            heard.append(Word(word.start, end, f" euh{round(end * 1000)}"))
            break
    return heard


def a_script(durations: list[float], gaps: list[float], sentence_every: int) -> list[Word]:
    script, at = [], 0.5
    for index, length in enumerate(durations):
        end_of_sentence = (index + 1) % sentence_every == 0
        text = f" mot{index}" + ("." if end_of_sentence else "")
        script.append(Word(round(at, 3), round(at + length, 3), text))
        at += length + gaps[index % len(gaps)]
    return script


def stream(script: list[Word], steps: list[float], params: StreamingParams) -> list[Word]:
    """Passes over a growing window, `steps[i]` more seconds each time, as the live
    captioner runs them; then the flush."""
    total = script[-1].end + 0.5
    policy = LocalAgreement(params)
    committed: list[Word] = []
    start, end, index = 0.0, 0.0, 0
    while end < total:
        end = min(total, end + steps[index % len(steps)])
        index += 1
        if policy.window_start(start, end) > start:
            start = policy.window_start(start, end)
            policy.forget_before(start)
        committed += policy.insert(heard_in(script, start, end), audio_end=end)
        cut = policy.trim_point(start, end)
        if cut is not None:
            start = cut
            policy.forget_before(start)
    return committed + policy.flush()


SCRIPTS = {
    "durations": st.lists(st.floats(0.15, 0.9), min_size=1, max_size=60),
    "gaps": st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.5]), min_size=1, max_size=60),
    "sentence_every": st.integers(2, 30),
}
PARAMS = StreamingParams(step=1.0, trim_after=6.0, max_buffer=12.0, commit_after=4.0)


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(st.floats(0.2, 1.0), min_size=1, max_size=50), **SCRIPTS)
def test_passes_that_keep_up_commit_every_word_once_in_order(
    durations: list[float], gaps: list[float], sentence_every: int, steps: list[float]
) -> None:
    script = a_script(durations, gaps, sentence_every)
    committed = stream(script, steps, PARAMS)
    assert [w.text for w in committed] == [w.text for w in script]


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(st.floats(0.2, 20.0), min_size=1, max_size=50), **SCRIPTS)
def test_passes_that_fall_behind_lose_words_but_never_repeat_or_reorder(
    durations: list[float], gaps: list[float], sentence_every: int, steps: list[float]
) -> None:
    script = a_script(durations, gaps, sentence_every)
    committed = stream(script, steps, PARAMS)
    spoken = [w.text for w in script]
    positions = [spoken.index(w.text) for w in committed]  # fails on a guessed word
    assert positions == sorted(set(positions))
