#!/usr/bin/env bash
# keytrail's full check: test dependencies, formatting, clippy, the test suite
# (unit + integration tests against moto_server) and, when the SAM template exists,
# cfn-lint and checkov. Works from any directory.
#
#   scripts/test.sh
#
# Exports KEYTRAIL_MOTO_SERVER (moto_server) and KEYTRAIL_CHROMIUM (headless Chromium,
# for the HTML report test) and puts the pip-installed tools' directories on PATH.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if (($# > 0)); then
    case "$1" in
        -h | --help)
            sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "test.sh: unknown argument: $1 (try --help)" >&2
            exit 2
            ;;
    esac
fi

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

TOTAL_START="$(now)"
SUMMARY=()

# step NAME COMMAND [ARGS...]: header, run, elapsed seconds; stops the run on failure.
step() {
    local name="$1" start rc=0
    shift
    printf '\n==> %s\n' "$name"
    printf '    $ %s\n' "$*"
    start="$(now)"
    "$@" || rc=$?
    local secs
    secs="$(elapsed "$start")"
    if ((rc != 0)); then
        printf '<== %s: FAILED (exit %d) after %ss\n' "$name" "$rc" "$secs" >&2
        SUMMARY+=("$(printf '%-10s %7ss  FAILED' "$name" "$secs")")
        print_summary >&2
        exit "$rc"
    fi
    printf '<== %s: ok in %ss\n' "$name" "$secs"
    SUMMARY+=("$(printf '%-10s %7ss  ok' "$name" "$secs")")
}

print_summary() {
    printf '\n==> summary (total %ss)\n' "$(elapsed "$TOTAL_START")"
    printf '    %s\n' "${SUMMARY[@]}"
}

# shellcheck source=scripts/install-test-deps.sh
source "$ROOT/scripts/install-test-deps.sh"
# Sourced (not run in a subshell) so the PATH and KEYTRAIL_MOTO_SERVER it exports
# reach the steps below.
step deps keytrail_install_test_deps
export KEYTRAIL_MOTO_SERVER KEYTRAIL_CHROMIUM
echo "    KEYTRAIL_MOTO_SERVER=$KEYTRAIL_MOTO_SERVER"
echo "    KEYTRAIL_CHROMIUM=$KEYTRAIL_CHROMIUM"
echo "    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}"

step fmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets --all-features -- -D warnings
# Snapshots (insta) are compared, never written: a difference fails the run.
export INSTA_UPDATE=no
step test cargo test --workspace --all-features
# The CLI as users build it by default: without the AWS SDK (feature aws off).
step cli-lean cargo clippy -p keytrail-cli --all-targets -- -D warnings
step cli-lean-test cargo test -p keytrail-cli --test papercuts

if [[ -f template.yaml ]]; then
    step cfn-lint cfn-lint template.yaml template-member-role.yaml
    # --skip-download / BC_SKIP_MAPPING: checkov otherwise tries to fetch guideline
    # mappings from Prisma Cloud, which prints a long traceback on a closed network.
    export BC_SKIP_MAPPING=TRUE
    checkov_args=(-f template.yaml -f template-member-role.yaml --framework cloudformation --quiet --compact --skip-download)
    if [[ -f .checkov.yaml ]]; then
        checkov_args=(--config-file .checkov.yaml "${checkov_args[@]}")
    fi
    step checkov checkov "${checkov_args[@]}"
else
    printf '\n==> template checks: skipped (no template.yaml)\n'
fi

print_summary
echo "All checks passed."
