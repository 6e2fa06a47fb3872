"""The pages work under a strict Content-Security-Policy: no inline script, no event-handler
attribute, no style attribute in the templates; the scripts set no style attribute and
write no markup (the journey test runs the pages under such a policy in Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "replay"
TEMPLATES = sorted([*(SRC / "web" / "templates").glob("*.html"),
                    *(SRC / "site" / "templates").glob("*.html")])
SCRIPTS = sorted([*(SRC / "web" / "static").glob("*.js"), *(SRC / "site" / "static").glob("*.js")])


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_need_no_unsafe_inline(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "event-handler attribute"
    assert not re.search(r"\sstyle\s*=", text), "style attribute"
    assert "<style" not in text, "inline <style>"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_set_no_style_attribute_and_write_no_markup(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    assert not re.search(r"setAttribute\(\s*[\"']style|[\s{,]style:\s", text)
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write",
                         text)
    assert "eval(" not in text
    assert "new Function" not in text
