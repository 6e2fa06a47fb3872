#!/usr/bin/env python3
"""Compile the message catalogues: every ``src/replay/locale/*/LC_MESSAGES/replay.po`` to
the ``replay.mo`` beside it (committed; tests/unit/test_messages.py checks it is up to
date). Usage: .venv/bin/python scripts/compile_messages.py"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "src" / "replay" / "locale"


def compiled(po: Path) -> bytes:
    """The .mo of catalogue `po`, as bytes (fuzzy entries left out, as gettext does)."""
    with po.open("rb") as source:
        catalog = read_po(source)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def main() -> int:
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        po.with_suffix(".mo").write_bytes(compiled(po))
        print(f"compiled {po.relative_to(LOCALE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
