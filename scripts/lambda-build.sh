#!/usr/bin/env bash
# Build keytrail's Lambda functions for the Lambda target (provided.al2023, arm64)
# with cargo-lambda, as `sam build` does. Works from any directory.
#
#   scripts/lambda-build.sh [EXTRA cargo lambda build ARGS...]
#   scripts/lambda-build.sh --output-format zip
#
# Installs what is missing, and only that: cargo-lambda and ziglang (the
# cross-linker) with pip, and the aarch64-unknown-linux-gnu rustup target. Builds
# every function package in the workspace (log-processor, alarm-enricher and, once it
# is a member, monthly-review) into target/lambda/<name>/bootstrap. Not part of
# scripts/test.sh (it takes minutes); run it before `sam deploy` or in a release job.
# The release profile (root Cargo.toml) holds the size settings, as `sam build` uses
# it too; each bootstrap must stay at or under KEYTRAIL_MAX_BOOTSTRAP_BYTES (default
# 8000000, 8 MB), or the script fails after printing the sizes.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
esac

PYTHON="${KEYTRAIL_PYTHON:-python3}"
say() { printf 'lambda-build: %s\n' "$*" >&2; }
die() {
    printf 'lambda-build: ERROR: %s\n' "$*" >&2
    exit 1
}

# pip's console-script directories, so a freshly installed cargo-lambda is callable.
for dir in "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)" \
    "$("$PYTHON" -c 'import site, os; print(os.path.join(site.getuserbase(), "bin"))' 2>/dev/null || true)"; do
    if [[ -n "$dir" && -d "$dir" && ":$PATH:" != *":$dir:"* ]]; then
        PATH="$PATH:$dir"
    fi
done
export PATH

# _kt_pip_install: pip with the fallback for an externally managed system Python.
KEYTRAIL_PYTHON="$PYTHON"
# shellcheck source=scripts/install-test-deps.sh disable=SC1091 # followed with shellcheck -x
source "$ROOT/scripts/install-test-deps.sh"

missing=()
cargo lambda --version >/dev/null 2>&1 || missing+=(cargo-lambda)
command -v zig >/dev/null 2>&1 || "$PYTHON" -c 'import ziglang' >/dev/null 2>&1 || missing+=(ziglang)
if ((${#missing[@]} > 0)); then
    _kt_pip_install "${missing[@]}" || die "pip install ${missing[*]} failed"
fi
cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda installed but 'cargo lambda --version' fails; is pip's bin directory on PATH?"
say "$(cargo lambda --version)"

if command -v rustup >/dev/null 2>&1; then
    rustup target add aarch64-unknown-linux-gnu >&2
else
    say "rustup not found: assuming the aarch64-unknown-linux-gnu standard library is installed"
fi

# The function packages that are workspace members.
mapfile -t packages < <(cargo metadata --no-deps --format-version 1 | "$PYTHON" -c '
import json, sys
wanted = ["log-processor", "alarm-enricher", "monthly-review"]
names = {p["name"] for p in json.load(sys.stdin)["packages"]}
print("\n".join(n for n in wanted if n in names))
')
((${#packages[@]} > 0)) || die "no function packages found in the workspace"
args=()
for p in "${packages[@]}"; do
    args+=(-p "$p")
done

say "cargo lambda build --release --arm64 ${args[*]} $*"
start="$(date +%s)"
cargo lambda build --release --arm64 "${args[@]}" "$@"
end="$(date +%s)"

target_dir="$(cargo metadata --no-deps --format-version 1 | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
max_bytes="${KEYTRAIL_MAX_BOOTSTRAP_BYTES:-8000000}"
too_big=()
for p in "${packages[@]}"; do
    for f in "$target_dir/lambda/$p/bootstrap" "$target_dir/lambda/$p/bootstrap.zip"; do
        [[ -f "$f" ]] || continue
        bytes="$(stat -c %s "$f")"
        say "built $f ($bytes bytes, $(du -h "$f" | cut -f1))"
        if [[ "$f" == */bootstrap ]] && ((bytes > max_bytes)); then
            too_big+=("$p ($bytes bytes)")
        fi
    done
done
say "done in $((end - start)) s"
if ((${#too_big[@]} > 0)); then
    die "over the size limit of $max_bytes bytes: ${too_big[*]}"
fi
