#!/bin/sh
# Entry point of the replay images: the data directory must exist and be writable (a named
# volume shared by the API and the workers, as long as originals are on it), then
# the given command runs as PID 1's child under exec, so SIGTERM reaches replay and it
# shuts down gracefully (running jobs finish or are handed back).
set -eu
data="${REPLAY_DATA_DIR:-/var/lib/replay/data}"
mkdir -p "$data"
if [ ! -w "$data" ]; then
    echo "replay : erreur : le dossier de données $data n’est pas accessible en écriture" >&2
    exit 2
fi
exec "$@"
