#!/usr/bin/env bash
# Set everything up, then run the main job on a generated sample event.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/replay --data-dir replay-data demo --out replay-sample "$@"
