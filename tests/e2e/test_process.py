"""`replay process` end to end, as a user runs it: a generated 3.5-minute recording of one
room with two sessions starting late, a silent break between them, real ffmpeg, real
Whisper, published to the data directory's site.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import unicodedata
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import html5lib
import pytest

from replay.domain.webvtt import parse_webvtt
from replay.sample import SampleTruth, build_sample
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENT = "demo-mission-villes"


@dataclass(frozen=True)
class Run:
    truth: SampleTruth
    data_dir: Path
    summary: dict[str, object]
    stderr: str

    @property
    def site(self) -> Path:
        return self.data_dir / "site" / EVENT


def replay(*args: str, data_dir: Path, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replay", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, **(env or {})}, check=False,
    )


def process_args(truth: SampleTruth, *extra: str) -> list[str]:
    return ["process", str(truth.recording), "--schedule", str(truth.schedule),
            "--room", truth.room, "--json", *extra]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("e2e")
    truth = build_sample(base / "sample")
    result = replay(*process_args(truth), data_dir=base / "data")
    assert result.returncode == 0, result.stderr
    return Run(truth, base / "data", json.loads(result.stdout), result.stderr)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file() and "sqlite3" not in p.name
    }


def replays(run: Run) -> list[dict[str, object]]:
    data = json.loads((run.site / "replays.json").read_text(encoding="utf-8"))
    entries = data["replays"]
    assert isinstance(entries, list)
    return entries


def test_cut_points_land_within_five_seconds_of_the_real_speech(run: Run) -> None:
    entries = {e["guid"]: e for e in replays(run)}
    assert set(entries) == {s.guid for s in run.truth.sessions}, "the break is not published"
    for truth in run.truth.sessions:
        entry = entries[truth.guid]
        assert abs(float(str(entry["recording_offset_start"])) - truth.speech_start) <= 5
        assert abs(float(str(entry["recording_offset_end"])) - truth.speech_end) <= 5


def test_replays_json_lists_relative_paths_that_exist(run: Run) -> None:
    for entry in replays(run):
        subtitles = entry["subtitles"]
        assert isinstance(subtitles, dict)
        assert set(subtitles) == {"fr", "en"}
        for path in [entry["hls"], entry["mp4"], entry["poster"], entry["transcript"],
                     *subtitles.values()]:
            assert isinstance(path, str)
            assert not path.startswith("/")
            assert (run.site / path).is_file(), path


def ffprobe_streams(target: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-show_streams",
         "-print_format", "json", str(target)],
        capture_output=True, text=True, check=True, timeout=120)
    streams = json.loads(result.stdout)["streams"]
    assert isinstance(streams, list)
    return streams


def test_hls_ladder_is_readable_and_well_formed(run: Run) -> None:
    for entry in replays(run):
        master_path = run.site / str(entry["hls"])
        master = master_path.read_text()
        variants = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF")]
        assert len(variants) == 3, master  # 480p and 360p (source is 854x480) + audio only
        for line in variants:
            assert "BANDWIDTH=" in line
            assert "CODECS=" in line
            assert 'SUBTITLES="subs"' in line
        assert sum("RESOLUTION=" in line for line in variants) == 2
        assert "RESOLUTION=854x480" in master
        assert "1280x720" not in master
        assert master.count("TYPE=SUBTITLES") == 2
        streams = ffprobe_streams(master_path)
        codecs = {s["codec_name"] for s in streams}
        assert {"h264", "aac"} <= codecs
        heights = {s.get("height") for s in streams if s["codec_type"] == "video"}
        assert heights == {480, 360}


def test_segments_are_about_six_seconds(run: Run) -> None:
    entry = replays(run)[0]
    playlist = (run.site / str(entry["hls"])).parent / "480p" / "index.m3u8"
    lengths = [float(x) for x in re.findall(r"#EXTINF:([\d.]+)", playlist.read_text())]
    assert lengths
    assert all(abs(x - 6.0) < 0.5 for x in lengths[:-1]), lengths


def test_mp4_and_poster(run: Run) -> None:
    for entry in replays(run):
        streams = ffprobe_streams(run.site / str(entry["mp4"]))
        assert {s["codec_type"] for s in streams} == {"video", "audio"}
        poster = ffprobe_streams(run.site / str(entry["poster"]))
        assert poster[0]["codec_name"] == "mjpeg"


def test_subtitles_parse_and_follow_reading_rules(run: Run) -> None:
    for entry in replays(run):
        subtitles = entry["subtitles"]
        assert isinstance(subtitles, dict)
        for language, limit in (("fr", 40), ("en", 42)):
            cues = parse_webvtt((run.site / subtitles[language]).read_text(encoding="utf-8"))
            assert cues, f"no {language} cues"
            for cue in cues:
                assert 1 <= len(cue.lines) <= 2
                assert all(len(line) <= limit for line in cue.lines if " " in line)
                assert cue.end - cue.start <= 7.0


def test_french_transcript_recognises_the_speech(run: Run) -> None:
    text = "\n".join(
        (run.site / str(e["transcript"])).read_text(encoding="utf-8").casefold()
        for e in replays(run))
    expected = ["bonjour", "climatique", "métropole", "citoyenne", "questions", "transports"]
    found = [word for word in expected if word in text]
    assert len(found) >= 4, (found, text)


def test_english_subtitles_are_a_translation(run: Run) -> None:
    entry = replays(run)[0]
    subtitles = entry["subtitles"]
    assert isinstance(subtitles, dict)
    text = (run.site / subtitles["en"]).read_text(encoding="utf-8").casefold()
    assert sum(word in text for word in (" the ", " of ", " and ", " to ", " is ")) >= 3


def test_transcript_json_has_word_timings_and_probabilities(run: Run) -> None:
    slug_dir = (run.site / str(replays(run)[0]["transcript"])).parent
    data = json.loads((slug_dir / "transcript.fr.json").read_text(encoding="utf-8"))
    words = [w for s in data["segments"] for w in s["words"]]
    assert words
    for word in words:
        assert 0 <= word["start"] <= word["end"]
        assert 0 <= word["probability"] <= 1


def parse_html(path: Path) -> object:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(path.read_bytes())


def test_pages_are_valid_french_html_with_player_and_tracks(run: Run) -> None:
    index = parse_html(run.site / "index.html")
    assert index.get("lang") == "fr"  # type: ignore[attr-defined]
    links = [a.get("href") for a in index.iter("a")]  # type: ignore[attr-defined]
    assert "demo-0/index.html" in links
    assert "demo-2/index.html" in links
    page = parse_html(run.site / "demo-2" / "index.html")
    titles = [h.text for h in page.iter("h1")]  # type: ignore[attr-defined]
    assert titles == ["Table ronde « NetZeroCities » & financement"]
    tracks = {t.get("srclang"): t for t in page.iter("track")}  # type: ignore[attr-defined]
    assert set(tracks) == {"fr", "en"}
    assert "default" in tracks["fr"].attrib
    notes = " ".join("".join(p.itertext()) for p in page.iter("p"))  # type: ignore[attr-defined]
    assert "Sous-titres générés automatiquement" in notes
    transcript = list(page.iter("ol"))  # type: ignore[attr-defined]
    assert transcript
    assert len(list(transcript[0])) >= 2


def test_original_is_kept_checksummed_and_read_only(run: Run) -> None:
    originals = list((run.data_dir / "originals").iterdir())
    assert len(originals) == 1
    digest = hashlib.sha256(originals[0].read_bytes()).hexdigest()
    assert originals[0].name.startswith(digest)
    assert digest == hashlib.sha256(run.truth.recording.read_bytes()).hexdigest()
    assert not originals[0].stat().st_mode & 0o222


def test_progress_is_shown_per_stage(run: Run) -> None:
    for stage in ("audio", "parole", "vidéo", "transcription", "traduction", "publication"):
        assert re.search(rf"^{stage}\s.*terminé en", run.stderr, re.MULTILINE), stage
    assert "\u00a0%" in run.stderr


def test_running_again_redoes_nothing_and_publishes_the_same(run: Run) -> None:
    before = tree_digest(run.site)
    mtimes = {p: p.stat().st_mtime_ns for p in run.site.rglob("*") if p.is_file()}
    result = replay(*process_args(run.truth), data_dir=run.data_dir)
    assert result.returncode == 0, result.stderr
    for stage in ("audio", "parole", "vidéo", "sous-titres"):
        assert re.search(rf"^{stage}\s.*déjà fait", result.stderr, re.MULTILINE), stage
    assert tree_digest(run.site) == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def make_video_only(path: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=10:duration=3", "-c:v", "libx264",
                    "-preset", "ultrafast", str(path)], check=True, timeout=60)
    return path


@pytest.mark.parametrize("kind", ["not-media", "empty", "truncated", "no-audio"])
def test_bad_recordings_are_refused_and_lose_nothing(run: Run, tmp_path: Path,
                                                     kind: str) -> None:
    before = tree_digest(run.data_dir)
    bad = tmp_path / f"{kind}.mp4"
    expected = {"not-media": "pas un fichier vidéo ou audio", "empty": "vide",
                "truncated": "tronqué", "no-audio": "pas de piste audio"}[kind]
    if kind == "not-media":
        bad.write_text("ceci n'est pas une vidéo\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        data = run.truth.recording.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    else:
        make_video_only(bad)
    result = replay("process", str(bad), "--schedule", str(run.truth.schedule),
                    "--room", run.truth.room, "--started-at", "2026-03-03T09:29:30+01:00",
                    data_dir=run.data_dir)
    assert result.returncode == 2
    assert result.stderr.startswith("replay\u00a0: erreur\u00a0:")
    assert expected in result.stderr.casefold(), result.stderr
    assert tree_digest(run.data_dir) == before


def write_programme(path: Path, run: Run, edit: str) -> Path:
    data = json.loads(run.truth.schedule.read_text(encoding="utf-8"))
    events = data["schedule"]["conference"]["days"][0]["rooms"][run.truth.room]
    if edit == "overlap":
        events[2]["date"] = events[0]["date"]
        events[2]["start"] = events[0]["start"]
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    elif edit == "syntax":
        path.write_text(json.dumps(data, indent=1)[:400] + "\n  oops", encoding="utf-8")
    elif edit == "duration":
        events[0]["duration"] = "une heure"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "expected"), [
    ("syntax", "ligne"),
    ("duration", "durée"),
    ("overlap", "chevauche"),
])
def test_broken_programmes_are_refused_and_lose_nothing(run: Run, tmp_path: Path, edit: str,
                                                        expected: str) -> None:
    before = tree_digest(run.data_dir)
    programme = write_programme(tmp_path / "schedule.json", run, edit)
    result = replay("process", str(run.truth.recording), "--schedule", str(programme),
                    "--room", run.truth.room, data_dir=run.data_dir)
    assert result.returncode == 2
    assert expected in result.stderr.casefold(), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_digest(run.data_dir) == before


@pytest.mark.parametrize(("args", "expected"), [
    (["--room", "Salle Seine"], "«\u00a0plénière\u00a0»"),
    (["--started-at", "2026-05-01T09:00:00+02:00"], "hors du programme"),
    (["--started-at", "2026-03-03T09:29:30"], "sans fuseau horaire"),
])
def test_wrong_room_or_time_is_refused(run: Run, args: list[str], expected: str) -> None:
    before = tree_digest(run.data_dir)
    room = [] if "--room" in args else ["--room", run.truth.room]
    result = replay("process", str(run.truth.recording), "--schedule", str(run.truth.schedule),
                    *room, *args, data_dir=run.data_dir)
    assert result.returncode == 2
    assert expected in result.stderr.casefold(), result.stderr
    assert tree_digest(run.data_dir) == before


def test_recording_without_creation_time_needs_started_at(run: Run, tmp_path: Path) -> None:
    stripped = tmp_path / "no-date.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(run.truth.recording), "-map_metadata",
                    "-1", "-c", "copy", "-t", "20", str(stripped)], check=True, timeout=60)
    result = replay("process", str(stripped), "--schedule", str(run.truth.schedule),
                    "--room", run.truth.room, data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "--started-at" in result.stderr


def test_review_stops_before_publication(run: Run) -> None:
    index = run.site / "index.html"
    published_at = index.stat().st_mtime_ns
    result = replay(*process_args(run.truth, "--review"), data_dir=run.data_dir)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["site"] is None
    assert not re.search(r"^publication\s", result.stderr, re.MULTILINE)
    assert index.stat().st_mtime_ns == published_at


def test_help_explains_every_command() -> None:
    for args in (["--help"], ["process", "--help"], ["demo", "--help"]):
        result = subprocess.run([sys.executable, "-m", "replay", *args], capture_output=True,
                                text=True, check=True, timeout=60)
        assert "utilisation\u00a0: replay" in result.stdout
    result = subprocess.run([sys.executable, "-m", "replay", "process", "--help"],
                            capture_output=True, text=True, check=True, timeout=60)
    for option in ("--schedule", "--room", "--started-at", "--review", "--json"):
        assert option in result.stdout


@pytest.fixture(scope="module")
def site_server(run: Run) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(run.data_dir / "site"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None



@pytest.mark.browser
async def test_session_page_plays_in_chromium(site_server: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{site_server}/{EVENT}/demo-0/index.html")
            await page.evaluate("() => { const v = document.getElementById('player');"
                                " v.muted = true; return v.play(); }")
            await page.wait_for_function(
                "() => document.getElementById('player').currentTime > 1.5", timeout=30000)
            uses_hls = await page.evaluate(
                "() => document.getElementById('player').currentSrc")
            assert uses_hls.startswith("blob:") or uses_hls.endswith("master.m3u8"), uses_hls
            await page.evaluate("() => { const t = document.getElementById('player').textTracks;"
                                " for (const track of t) { if (track.mode === 'disabled')"
                                " track.mode = 'hidden'; } }")
            await page.wait_for_function(
                "() => Array.from(document.getElementById('player').textTracks)"
                ".every(t => t.cues && t.cues.length > 0)", timeout=30000)
            languages = await page.evaluate(
                "() => Array.from(document.getElementById('player').textTracks)"
                ".map(t => [t.language, t.mode])")
            assert ["fr", "showing"] in languages
            assert any(language == "en" for language, _ in languages)
            second = page.locator("#transcript li").nth(1)
            start = float(await second.get_attribute("data-start") or "nan")
            await second.locator("a").click()
            await page.wait_for_function(
                f"() => Math.abs(document.getElementById('player').currentTime - {start}) < 2",
                timeout=15000)
            assert errors == []
        finally:
            await browser.close()


def test_recording_matching_no_session_becomes_a_single_replay(run: Run, tmp_path: Path,
                                                               ) -> None:
    clip = tmp_path / "couloir.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "60", "-i", str(run.truth.recording),
                    "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    str(clip)], check=True, timeout=120)
    data_dir = tmp_path / "data"
    # During the break: no publishable session of the room overlaps this recording.
    result = replay("process", str(clip), "--schedule", str(run.truth.schedule), "--room",
                    run.truth.room, "--started-at", "2026-03-03T09:31:05+01:00", "--json",
                    data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    entries = json.loads((data_dir / "site" / EVENT / "replays.json").read_text())["replays"]
    assert len(entries) == 1
    assert entries[0]["guid"].startswith("recording-")
    assert entries[0]["title"].startswith(run.truth.room)
    assert (data_dir / "site" / EVENT / entries[0]["hls"]).is_file()


# -- the site in a browser: search, accessibility, weight, without JavaScript ----------

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
HLS_LIBRARY = "/assets/hls.light.min.js"
CODE_TYPES = {"document", "stylesheet", "script"}


@contextlib.asynccontextmanager
async def chromium(*, javascript: bool = True) -> AsyncIterator[Page]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The CSP is bypassed for axe, injected as a script (test_csp_browser.py
            # checks the pages under their CSP).
            context = await browser.new_context(java_script_enabled=javascript,
                                                bypass_csp=True)
            yield await context.new_page()
        finally:
            await browser.close()


def fold(text: str) -> str:
    """What the search page does to the query and the index: no accents, one case."""
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c)).casefold()


def spoken_word(site: Path) -> tuple[str, str, int]:
    """A long word the French transcript heard after the first segment: (word, slug, second)."""
    for entry in json.loads((site / "search.json").read_text(encoding="utf-8"))["sessions"]:
        for start, text in entry["segments"][1:]:
            words = sorted(re.findall(r"\w{7,}", text), key=len, reverse=True)
            if words and start >= 2:
                return words[0], entry["slug"], start
    raise AssertionError("no word of seven letters in the transcripts")


async def axe_violations(page: Page) -> list[str]:
    assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci)"
    await page.evaluate(AXE.read_text(encoding="utf-8"))  # not an inline script: the CSP holds
    result = await page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in result["violations"] if v["impact"] in {"serious", "critical"}]


@pytest.mark.browser
async def test_search_finds_a_spoken_word_and_plays_from_there(run: Run,
                                                              site_server: str) -> None:
    word, slug, second = spoken_word(run.site)
    async with chromium() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{site_server}/{EVENT}/index.html")
        # Accent- and case-insensitive: the query has neither the accents nor the case.
        await page.fill("#q", fold(word).upper())
        await page.press("#q", "Enter")
        await page.wait_for_url("**/recherche.html?q=*")
        await page.wait_for_selector("#results a.time")
        hrefs = await page.eval_on_selector_all("#results a.time", "a => a.map(x => x.href)")
        target = f"{site_server}/{EVENT}/{slug}/index.html#t={second}"
        assert target in hrefs, (word, hrefs)
        marks = await page.eval_on_selector_all("#results mark", "m => m.map(x => x.textContent)")
        assert word in marks
        status = await page.text_content("#search-status") or ""
        assert f"«\u00a0{fold(word).upper()}\u00a0»" in status
        await page.click(f"#results a.time[href='{slug}/index.html#t={second}']")
        await page.wait_for_function(
            f"() => {{ const v = document.getElementById('player');"
            f" return v && !v.paused && v.currentTime >= {second} - 0.5"
            f" && v.currentTime < {second} + 10; }}", timeout=30000)
        assert errors == []


@pytest.mark.browser
async def test_pages_have_no_serious_accessibility_violation(run: Run,
                                                             site_server: str) -> None:
    word, slug, _second = spoken_word(run.site)
    async with chromium() as page:
        found: dict[str, list[str]] = {}
        for path in ("index.html", f"{slug}/index.html", f"recherche.html?q={word}"):
            await page.goto(f"{site_server}/{EVENT}/{path}")
            await page.wait_for_load_state("networkidle")
            found[path] = await axe_violations(page)
        assert found == {path: [] for path in found}


NO_NATIVE_HLS = """(() => { const original = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : original.call(this, type); }; })();"""


@pytest.mark.browser
async def test_session_page_loads_hls_js_where_hls_is_not_native(site_server: str) -> None:
    # Chromium plays HLS natively since version 14x; browsers without it get hls.js.
    vendored = ROOT / "src" / "replay" / "site" / "static" / "vendor" / "hls.light.min.js"
    assert vendored.is_file(), "hls.js is missing: run scripts/setup.sh"
    async with chromium() as page:
        await page.add_init_script(NO_NATIVE_HLS)
        weights = await code_weights(page, f"{site_server}/{EVENT}/demo-0/index.html")
        assert any(url.endswith(HLS_LIBRARY) for url in weights), weights
        await page.evaluate("() => { const v = document.getElementById('player');"
                            " v.muted = true; return v.play(); }")
        await page.wait_for_function(
            "() => document.getElementById('player').currentTime > 1", timeout=30000)
        source = await page.evaluate("() => document.getElementById('player').currentSrc")
        assert source.startswith("blob:"), source
        print(f"\nsession page with hls.js: {sum(weights.values())} bytes {weights}")


async def code_weights(page: Page, url: str) -> dict[str, int]:
    """Bytes of every document, stylesheet and script the page downloads, by URL.

    ``blob:`` scripts are made in the page, not downloaded (hls.js starts its
    transmuxing worker from a copy of itself).
    """
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    return {r.url: len(await r.body()) for r in responses
            if r.request.resource_type in CODE_TYPES and not r.url.startswith("blob:")}


@pytest.mark.browser
async def test_page_weight_budget(run: Run, site_server: str) -> None:
    # The event page: all its HTML, CSS and JavaScript, posters excluded, under 100 KB.
    # The session page's "own code": its HTML, the site's CSS and JavaScript, under 250 KB;
    # media (segments, MP4, posters, subtitles) are content, and hls.js (about 350 KB) is
    # a third-party library that player.js loads only where HLS does not play natively,
    # so it is reported here but not counted.
    async with chromium() as page:
        event = await code_weights(page, f"{site_server}/{EVENT}/index.html")
    async with chromium() as page:
        session = await code_weights(page, f"{site_server}/{EVENT}/demo-0/index.html")
    own = {url: size for url, size in session.items() if not url.endswith(HLS_LIBRARY)}
    print(f"\nevent page: {sum(event.values())} bytes {event}\n"
          f"session page: own code {sum(own.values())} bytes {own},"
          f" with hls.js {sum(session.values())} bytes")
    assert 0 < sum(event.values()) < 100_000, event
    assert 0 < sum(own.values()) < 250_000, own
    assert any(url.endswith("/player.js") for url in own)


@pytest.mark.browser
async def test_without_javascript_the_session_page_offers_mp4_and_transcript(
    site_server: str,
) -> None:
    async with chromium(javascript=False) as page:
        await page.goto(f"{site_server}/{EVENT}/demo-0/index.html")
        assert await page.locator(".downloads a[href='replay.mp4']").is_visible()
        assert await page.locator(".downloads a[href='audio.m4a']").is_visible()
        assert await page.locator(".downloads a[href='transcript.fr.txt']").is_visible()
        lines = page.locator("#transcript li")
        assert await lines.count() >= 2
        assert await lines.first.is_visible()
        assert not await page.locator("#transcript-search").is_visible()
        await page.goto(f"{site_server}/{EVENT}/recherche.html?q=climat")
        assert "JavaScript" in (await page.text_content("main") or "")


def test_feeds_parse_and_enclose_the_published_files(run: Run) -> None:
    import defusedxml.ElementTree as SafeET

    entries = replays(run)
    atom_ns = "{http://www.w3.org/2005/Atom}"
    atom = SafeET.parse(run.site / "atom.xml").getroot()
    feed_entries = atom.findall(f"{atom_ns}entry")
    assert sorted(e.findtext(f"{atom_ns}title") for e in feed_entries) == sorted(
        str(e["title"]) for e in entries)
    videos = [link for link in atom.iter(f"{atom_ns}link") if link.get("rel") == "enclosure"]
    assert len(videos) == 2 * len(entries)  # the MP4 and the M4A of each replay
    for link in videos:
        assert int(link.get("length")) == (run.site / link.get("href")).stat().st_size
    rss = SafeET.parse(run.site / "podcast.xml").getroot()
    items = rss.findall("channel/item")
    assert len(items) == len(entries)
    for item in items:
        enclosure = item.find("enclosure")
        assert enclosure is not None
        assert enclosure.get("type") == "audio/mp4"
        audio = run.site / enclosure.get("url")
        assert int(enclosure.get("length")) == audio.stat().st_size
        streams = ffprobe_streams(audio)
        assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("audio", "aac")]
