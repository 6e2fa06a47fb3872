#!/usr/bin/env python3
"""Container healthcheck of the replay images (standard library only).

    replay-healthcheck http://127.0.0.1:8080/health   the API or the live: /health answers 200
    replay-healthcheck /tmp/worker.alive 60           a worker: its --health-file is recent

A worker touches its health file each time its job queue answers, so a stale file means a
stuck event loop or an unreachable database.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: replay-healthcheck URL | FILE [MAX_AGE_SECONDS]", file=sys.stderr)
        return 2
    target = argv[0]
    if target.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(target, timeout=5) as response:
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(f"{target}: {exc}", file=sys.stderr)
            return 1
    max_age = float(argv[1]) if len(argv) > 1 else 60.0
    try:
        age = time.time() - Path(target).stat().st_mtime
    except OSError as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 1
    return 0 if age <= max_age else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
