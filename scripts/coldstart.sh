#!/usr/bin/env bash
# Cold start of keytrail's Lambda functions, locally: builds the three functions in
# release for this machine, then runs scripts/coldstart.py, which times each binary
# from process start to its first invocation's response under a minimal Lambda
# Runtime API emulator, with the SDK talking to a local moto_server. Works from any
# directory.
#
#   scripts/coldstart.sh [coldstart.py OPTIONS...]
#   scripts/coldstart.sh --runs 20 --functions log-processor --moto-clock
#
# Options go to coldstart.py (see scripts/coldstart.py --help): --runs N (default 10),
# --functions a,b, --moto-clock (split the time into moto's and the rest), -v.
# Installs moto_server with scripts/install-test-deps.sh when it is missing.
# Exit status: coldstart.py's (0 when every invocation succeeded).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
    -h | --help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac

PYTHON="${KEYTRAIL_PYTHON:-python3}"
say() { printf 'coldstart: %s\n' "$*" >&2; }

if [[ -z "${KEYTRAIL_MOTO_SERVER:-}" ]] && ! command -v moto_server >/dev/null 2>&1; then
    say "moto_server not found: running scripts/install-test-deps.sh (the test dependencies)"
    eval "$(scripts/install-test-deps.sh --print-env)"
fi

say "cargo build --release -p log-processor -p alarm-enricher -p monthly-review"
cargo build --release -p log-processor -p alarm-enricher -p monthly-review >&2

target_dir="$(cargo metadata --no-deps --format-version 1 | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
exec "$PYTHON" scripts/coldstart.py --bin-dir "$target_dir/release" "$@"
