"""The session page's viewer features in Chromium, on a published session made of real
media (a few seconds of ffmpeg-generated video in two HLS rungs, and an MP4): share at a
time, the transcript following playback, the sticky player and readable captions on a
phone, speed, quality, keyboard shortcuts, the search page's share buttons, related
replays; the embed page framed by another site, served by `replay serve`'s application."""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from replay.domain.chapters import Chapter
from replay.settings import Settings
from replay.site.publish import SessionOutputs, publish_event
from replay.storage.local import LocalDirectoryStore
from replay.web.app import create_app
from tests.unit.test_site_pages import T0, make_cut, make_event, make_session

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Frame, Page

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
EVENT = "villes-2026"
DURATION = 12
#: One transcript line every 0.25 s: enough lines for the list to scroll.
LINES = [(round(i * 0.25, 2), f"Ligne {i} de la transcription sur la sobriété énergétique")
         for i in range(DURATION * 4)]
CUE = "Bonjour Jeanne, ligne de sous-titre"
CHAPTERS = (Chapter(0.0, "Accueil"), Chapter(6.5, "Débat « ouvert »"))
RUNGS = {"360p": (640, 360, "800k"), "180p": (320, 180, "200k")}
NO_NATIVE_HLS = """(() => { const original = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : original.call(this, type); }; })();"""
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1,
                         "is_mobile": True, "has_touch": True}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, timeout=120)


def make_media(media: Path) -> None:
    """A black picture (cues are then the only light pixels) with a tone, as two HLS
    rungs cut every 2 s and an MP4."""
    source = ["-f", "lavfi", "-i", f"color=c=black:s=640x360:r=25:d={DURATION}",
              "-f", "lavfi", "-i", f"sine=frequency=440:duration={DURATION}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50",
              "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"]
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name, (width, height, rate) in RUNGS.items():
        (media / "hls" / name).mkdir(parents=True)
        ffmpeg(*source, *codecs, "-s", f"{width}x{height}", "-b:v", rate,
               "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
               "-hls_segment_filename", str(media / "hls" / name / "seg_%05d.ts"),
               str(media / "hls" / name / "index.m3u8"))
        bandwidth = int(rate.rstrip("k")) * 1000 + 64_000
        master += [f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},'
                   'CODECS="avc1.42c01e,mp4a.40.2"', f"{name}/index.m3u8"]
    (media / "hls" / "master.m3u8").write_text("\n".join(master) + "\n", encoding="utf-8")
    (media / "hls" / "start_time.txt").write_text("0", encoding="utf-8")
    ffmpeg(*source, *codecs, "-s", "640x360", "-movflags", "+faststart",
           str(media / "replay.mp4"))


def make_speech(speech: Path) -> None:
    speech.mkdir(parents=True)
    end = f"00:00:{DURATION:02d}.000"
    (speech / "subtitles.fr.vtt").write_text(
        f"WEBVTT\n\n00:00:00.000 --> {end}\n{CUE}\n", encoding="utf-8")
    (speech / "subtitles.en.vtt").write_text(
        f"WEBVTT\n\n00:00:00.000 --> {end}\nHello Jeanne, a subtitle line\n", encoding="utf-8")
    segments = [{"start": start, "end": start + 0.25, "text": text} for start, text in LINES]
    (speech / "transcript.fr.json").write_text(
        json.dumps({"language": "fr", "segments": segments}, ensure_ascii=False),
        encoding="utf-8")
    (speech / "transcript.fr.txt").write_text(
        "\n".join(text for _, text in LINES) + "\n", encoding="utf-8")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@dataclass(frozen=True)
class Site:
    url: str
    data_dir: Path  # its site/ folder holds the published event

    @property
    def session(self) -> str:
        return f"{self.url}/{EVENT}/ouverture/index.html"


@pytest_asyncio.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    root = tmp_path_factory.mktemp("viewer")
    item = make_session("g1", "ouverture", T0, evil=False)
    other = make_session("g2", "table-ronde", T0 + timedelta(hours=2), evil=False)
    media, speech = root / "work" / "media", root / "work" / "speech"
    make_media(media)
    make_speech(speech)
    outputs = [SessionOutputs(make_cut(s, 0.0, float(DURATION)), s.room, s, media, speech,
                              chapters=CHAPTERS if s is item else ())
               for s in (item, other)]  # the same media: `other` is a related replay
    await publish_event(LocalDirectoryStore(root / "site"), make_event(item, other), outputs,
                        drafts=False)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root / "site")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{server.server_address[1]}", root)
    server.shutdown()
    server.server_close()


async def new_page(browser: Browser, site: Site, **options: Any) -> tuple[BrowserContext, Page]:
    """A page whose clipboard the site may use (the CSP bypassed for axe, as elsewhere)."""
    context = await browser.new_context(locale="fr-FR", bypass_csp=True, **options)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    return context, page


async def open_session(page: Page, site: Site, *, hash_: str = "") -> None:
    await page.goto(site.session + hash_)
    await page.wait_for_function("() => document.getElementById('player').readyState >= 1")


async def seek(page: Page, seconds: float) -> None:
    await page.evaluate(
        """(t) => new Promise((done) => { const v = document.getElementById('player');
          v.addEventListener('seeked', () => done(), { once: true }); v.currentTime = t; })""",
        seconds)


async def clipboard(page: Page) -> str:
    text: str = await page.evaluate("() => navigator.clipboard.readText()")
    return text


async def axe_violations(page: Page | Frame) -> list[str]:
    assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci)"
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in result["violations"] if v["impact"] in {"serious", "critical"}]


async def test_share_copies_a_link_to_the_current_second(browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site)
    try:
        await open_session(page, site)
        await seek(page, 7.6)
        await page.click("#share-now")
        await page.wait_for_function(
            "() => document.getElementById('share-status').textContent.length > 0")
        assert await clipboard(page) == f"{site.session}#t=7"
        status = await page.text_content("#share-status") or ""
        assert status == f"Lien copié\u00a0: {site.session}#t=7"
        # Each transcript line offers its own link.
        line = page.locator("#transcript li").nth(22)  # 5.5 s
        assert await line.locator("button.share-line").get_attribute("aria-label") == \
            "Partager le lien vers 00:05"
        await line.locator("button.share-line").click()
        await page.wait_for_function(
            "() => document.getElementById('share-status').textContent.endsWith('#t=5')")
        assert await clipboard(page) == f"{site.session}#t=5"
        # The link starts playback there.
        await open_session(page, site, hash_="#t=5")
        await page.wait_for_function("() => document.getElementById('player').currentTime >= 5")
    finally:
        await context.close()


async def test_search_hits_offer_their_link(browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site)
    try:
        await page.goto(f"{site.url}/{EVENT}/recherche.html?q=ligne+30")
        buttons = page.locator("#results button.share-hit")
        await buttons.first.wait_for()
        assert await buttons.count() == 2  # both sessions (the same transcript)
        assert await buttons.first.get_attribute("aria-label") == "Partager le lien vers 00:07"
        await buttons.first.click()
        await page.wait_for_function(
            "() => document.getElementById('share-status').textContent.length > 0")
        assert await clipboard(page) == f"{site.session}#t=7"
        await buttons.nth(1).click()
        await page.wait_for_function(
            "() => document.getElementById('share-status').textContent.includes('table-ronde')")
        assert await clipboard(page) == f"{site.url}/{EVENT}/table-ronde/index.html#t=7"
        assert await axe_violations(page) == []
    finally:
        await context.close()


LINE_IN_VIEW = """() => { const list = document.getElementById('transcript');
  const line = list.querySelector('li.current'); if (!line) { return false; }
  const a = list.getBoundingClientRect(), b = line.getBoundingClientRect();
  return b.top >= a.top - 1 && b.bottom <= a.bottom + 1; }"""


async def test_transcript_follows_playback_until_the_viewer_scrolls(
        browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site, viewport={"width": 1280, "height": 700})
    try:
        await open_session(page, site)
        assert await page.eval_on_selector("#transcript", "l => l.scrollHeight > l.clientHeight")
        follow = page.locator("#follow")
        assert not await follow.is_visible()
        await seek(page, 10.1)
        await page.wait_for_function(LINE_IN_VIEW)
        assert await page.eval_on_selector("#transcript", "l => l.scrollTop") > 0
        # Playing moves the highlight, and the list keeps it in view.
        await page.evaluate("() => { const v = document.getElementById('player');"
                            " v.muted = true; return v.play(); }")
        await page.wait_for_function(
            "() => document.getElementById('player').currentTime > 10.6")
        await page.evaluate("() => document.getElementById('player').pause()")
        await page.wait_for_function(LINE_IN_VIEW)

        # The viewer scrolls the transcript: it stops following and offers to come back.
        await page.hover("#transcript")
        await page.mouse.wheel(0, -5000)
        await page.wait_for_function("() => document.getElementById('transcript').scrollTop == 0")
        await follow.wait_for(state="visible")
        assert await follow.text_content() == "Revenir au direct de la lecture"
        await seek(page, 11.1)
        await page.wait_for_function(
            "() => document.querySelector('#transcript li.current').textContent"
            ".includes('Ligne 44 ')")
        assert await page.eval_on_selector("#transcript", "l => l.scrollTop") == 0
        assert not await page.evaluate(LINE_IN_VIEW)

        await follow.click()
        await page.wait_for_function(LINE_IN_VIEW)
        assert not await follow.is_visible()
        assert await axe_violations(page) == []
    finally:
        await context.close()


async def test_on_a_phone_the_player_stays_in_view(browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site, **PHONE)
    try:
        await open_session(page, site)
        video_bottom = await page.eval_on_selector(
            "#player", "v => v.getBoundingClientRect().bottom + window.scrollY")
        await page.locator("#transcript li").nth(40).scroll_into_view_if_needed()
        await page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        assert await page.evaluate("() => window.scrollY") > video_bottom  # scrolled past it
        box = await page.eval_on_selector("#player", "v => v.getBoundingClientRect().toJSON()")
        assert box["height"] > 100, box
        assert box["top"] >= 0, box
        assert box["bottom"] <= 844, box
        # Tapping a line plays the video, which the viewer sees.
        line = page.locator("#transcript li").nth(32)  # 8 s
        await line.scroll_into_view_if_needed()
        await line.locator("a.time").tap()
        await page.wait_for_function(
            "() => document.getElementById('player').currentTime >= 8")
        box = await page.eval_on_selector("#player", "v => v.getBoundingClientRect().toJSON()")
        assert box["top"] >= 0, box
        assert box["bottom"] <= 844, box
        line_box = await line.bounding_box()
        assert line_box is not None
        assert line_box["y"] >= box["bottom"] - 1  # not hidden under the video
        assert await axe_violations(page) == []
    finally:
        await context.close()


INK_HEIGHT = """async (data) => {
  const image = new Image(); image.src = 'data:image/png;base64,' + data; await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  let top = -1, bottom = -1;
  // Two pixels off each edge: the element's box may catch the page's white around it.
  for (let y = 2; y < image.height - 2; y++) {
    for (let x = 2; x < image.width - 2; x++) {
      const i = (y * image.width + x) * 4;
      if (pixels[i] > 200 && pixels[i + 1] > 200 && pixels[i + 2] > 200) {
        if (top < 0) { top = y; } bottom = y; break;
      }
    }
  }
  return top < 0 ? 0 : bottom - top + 1;
}"""


async def test_captions_are_readable_on_a_phone(browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site, **PHONE)
    try:
        await open_session(page, site)
        await seek(page, 2.0)
        await page.wait_for_function(
            "() => { const t = document.getElementById('player').textTracks[0];"
            " return t.mode === 'showing' && t.activeCues && t.activeCues.length > 0; }")
        # The picture is black: the white pixels are the cue's letters, one line of them
        # from the capitals' tops to the descenders' bottoms (« B », « J », « g »).
        # Without the native controls, whose icons are white too.
        await page.eval_on_selector("#player", "v => { v.controls = false; }")
        shot = await page.locator("#player").screenshot()
        ink = await page.evaluate(INK_HEIGHT, base64.b64encode(shot).decode())
        # About 0.9 em: 16 px letters ink 15 px here; Chromium's default on a 390 px
        # wide phone (5 % of a 200 px high video) inks 9.
        assert ink >= 14, ink
    finally:
        await context.close()


async def test_speed_quality_and_keyboard_shortcuts(browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site)
    try:
        await page.add_init_script(NO_NATIVE_HLS)  # hls.js plays: its levels make the menu
        await open_session(page, site)
        assert await page.eval_on_selector("#player", "v => v.currentSrc.startsWith('blob:')")
        speeds = await page.eval_on_selector_all(
            "#speed option", "o => o.map(x => [x.value, x.textContent])")
        assert speeds == [["0.75", "0,75\u00a0×"], ["1", "1\u00a0×"], ["1.25", "1,25\u00a0×"],
                          ["1.5", "1,5\u00a0×"], ["1.75", "1,75\u00a0×"], ["2", "2\u00a0×"]]
        await page.select_option("#speed", "1.5")
        assert await page.eval_on_selector("#player", "v => v.playbackRate") == 1.5

        await page.locator("#quality-box").wait_for(state="visible")
        qualities = await page.eval_on_selector_all("#quality option",
                                                    "o => o.map(x => x.textContent)")
        assert qualities[0].startswith("Auto")
        assert qualities[1:] == ["360p", "180p"]
        await page.select_option("#quality", label="180p")
        await page.evaluate("() => { const v = document.getElementById('player');"
                            " v.muted = true; return v.play(); }")
        await page.wait_for_function("() => document.getElementById('player').videoHeight == 180")
        await page.evaluate("() => document.getElementById('player').pause()")

        # Shortcuts, listed on the page.
        listed = await page.text_content("#shortcuts") or ""
        for key in ("k", "j", "l", "c", "f", "m"):
            assert await page.locator("#shortcuts kbd", has_text=key).count() >= 1, key
        assert "Raccourcis clavier" in listed
        await page.evaluate("() => document.activeElement.blur()")
        await seek(page, 1.0)
        await page.keyboard.press("l")
        await page.wait_for_function("() => document.getElementById('player').currentTime >= 11")
        await page.keyboard.press("j")
        await page.wait_for_function("() => document.getElementById('player').currentTime < 2")
        await page.keyboard.press(">")
        assert await page.eval_on_selector("#player", "v => v.playbackRate") == 1.75
        assert await page.input_value("#speed") == "1.75"
        await page.keyboard.press("<")
        await page.keyboard.press("<")
        assert await page.eval_on_selector("#player", "v => v.playbackRate") == 1.25
        await page.keyboard.press("c")
        assert await page.eval_on_selector("#player", "v => v.textTracks[0].mode") == "hidden"
        await page.keyboard.press("c")
        assert await page.eval_on_selector("#player", "v => v.textTracks[0].mode") == "showing"
        await page.keyboard.press("k")
        await page.wait_for_function("() => !document.getElementById('player').paused")
        await page.keyboard.press("k")
        await page.wait_for_function("() => document.getElementById('player').paused")
        # Typing in the transcript search is not a shortcut.
        await page.fill("#transcript-query", "ligne")
        await page.press("#transcript-query", "l")
        assert await page.eval_on_selector("#player", "v => v.currentTime < 5")
        assert await axe_violations(page) == []
    finally:
        await context.close()


PARTNER = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Partenaire</title>
</head><body><h1>Ville partenaire</h1>
<iframe id="embed" src="{embed}" width="640" height="400" title="Replay"></iframe>
<iframe id="page" src="{page}" width="640" height="400" title="Page"></iframe>
</body></html>"""


async def test_the_embed_page_plays_inside_another_site(browser: Browser, site: Site,
                                                       tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=site.data_dir, cpu_threads=1), run_workers=False)
    runner = web.AppRunner(app)
    await runner.setup()
    service = web.TCPSite(runner, "127.0.0.1", 0)
    await service.start()
    served = f"http://127.0.0.1:{runner.addresses[0][1]}/site/{EVENT}/ouverture"
    # The partner's page comes from another origin (localhost, not 127.0.0.1).
    (tmp_path / "partner.html").write_text(
        PARTNER.format(embed=f"{served}/embed.html", page=f"{served}/index.html"),
        encoding="utf-8")
    partner = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=partner.serve_forever, daemon=True).start()
    context = await browser.new_context(locale="fr-FR")  # CSP kept
    try:
        page = await context.new_page()
        page.set_default_timeout(20_000)
        await page.goto(f"http://localhost:{partner.server_address[1]}/partner.html")
        await page.wait_for_load_state("networkidle")
        [embed] = [f for f in page.frames if f.url == f"{served}/embed.html"]
        await embed.wait_for_function("() => document.getElementById('player').readyState >= 1")
        await embed.evaluate("() => { const v = document.getElementById('player');"
                             " v.muted = true; return v.play(); }")
        await embed.wait_for_function(
            "() => document.getElementById('player').currentTime > 0.5")
        link = embed.locator("a[target=_blank]")
        assert await link.get_attribute("href") == "index.html"
        # Only the embed page may be framed: the session page is refused (an error page).
        assert [f.url for f in page.frames] == [page.url, f"{served}/embed.html",
                                                "chrome-error://chromewebdata/"]
        embed_headers = (await context.request.get(f"{served}/embed.html")).headers
        assert embed_headers["content-security-policy"].endswith("; frame-ancestors *")
        assert "x-frame-options" not in embed_headers
        page_headers = (await context.request.get(f"{served}/index.html")).headers
        assert page_headers["content-security-policy"].endswith("; frame-ancestors 'none'")
        assert page_headers["x-frame-options"] == "DENY"

        # The session page offers the embed code with the embed page's full address.
        own = await context.new_page()
        await own.goto(f"{served}/index.html")
        code = await own.input_value("#embed-code")
        assert f'src="{served}/embed.html"' in code
        assert code.startswith("<iframe ")
        related = await own.eval_on_selector_all(".related a", "a => a.map(x => x.href)")
        assert related == [f"http://127.0.0.1:{runner.addresses[0][1]}/site/{EVENT}"
                           "/table-ronde/index.html"]
        assert await axe_violations(own) == []
        assert await axe_violations(embed) == []
    finally:
        await context.close()
        partner.shutdown()
        partner.server_close()
        await runner.cleanup()


async def test_chapters_are_listed_and_seek(browser: Browser, site: Site) -> None:
    context, page = await new_page(browser, site)
    try:
        await open_session(page, site)
        entries = page.locator("#chapters a")
        assert await entries.all_text_contents() == ["00:00 Accueil",
                                                     "00:06 Débat « ouvert »"]
        await entries.nth(1).click()
        await page.wait_for_function(
            "() => Math.abs(document.getElementById('player').currentTime - 6.5) < 0.6")
        await page.evaluate("() => document.getElementById('player').pause()")
        await entries.nth(0).click()
        await page.wait_for_function("() => document.getElementById('player').currentTime < 1")
        # The WebVTT chapters track carries the same.
        titles = await page.evaluate("""() => new Promise((done) => {
          const track = Array.from(document.getElementById('player').textTracks)
            .find((t) => t.kind === 'chapters');
          track.mode = 'hidden';
          const check = () => track.cues && track.cues.length
            ? done(Array.from(track.cues).map((c) => [c.startTime, c.endTime, c.text]))
            : setTimeout(check, 50);
          check(); })""")
        assert titles == [[0, 6.5, "Accueil"], [6.5, DURATION, "Débat « ouvert »"]]
        assert await axe_violations(page) == []
        # A session without marked chapters shows none.
        await page.goto(f"{site.url}/{EVENT}/table-ronde/index.html")
        assert await page.locator("#chapters").count() == 0
        assert await page.locator("track[kind=chapters]").count() == 0
    finally:
        await context.close()
