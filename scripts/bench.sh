#!/usr/bin/env bash
# keytrail benchmarks:
#   1. the criterion reader benchmark (shared/benches/reader.rs);
#   2. a whole-CLI throughput check: `keytrail scan <big.json.gz> --json` on a
#      synthetic ~200 MB (uncompressed) multi-member gzip CloudTrail log, reporting
#      wall time, MB/s of uncompressed input and peak resident memory;
#   3. the alarm enricher against moto_server (tests/bench_enrich.rs): one
#      KMSDecryptFailures alarm (30-minute window) over a day of 288 deliveries,
#      min/median/max of 10 runs of the handler;
#   4. `keytrail search <month> --context customerId=cust-1234 --json` over a
#      synthetic month of deliveries (30 days x 96 files x 60 records), reporting wall
#      time, files, MB/s of uncompressed input, peak resident memory and matches.
#
#   scripts/bench.sh [--size-mb N] [--skip-criterion] [--skip-cli] [--skip-enrich]
#                    [--skip-search] [--log PATH]
#
#   --size-mb N       uncompressed size of the synthetic log in MB (default 200)
#   --skip-criterion  do not run the criterion benchmark
#   --skip-cli        do not run the CLI throughput check
#   --skip-enrich     do not run the enricher benchmark (it needs moto_server, which
#                     is installed as scripts/test.sh installs it)
#   --skip-search     do not run the search benchmark
#   --log PATH        scan this .json.gz instead of generating one
#
# The synthetic log and the month tree are deterministic and cached in
# ${TMPDIR:-/tmp}/keytrail-bench/ (cloudtrail-*.json.gz, month/); delete them to
# regenerate. The release binary is taken from $CARGO_TARGET_DIR (default: target/
# in the repository).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SIZE_MB=200
RUN_CRITERION=1
RUN_CLI=1
RUN_ENRICH=1
RUN_SEARCH=1
LOG=""
while (($# > 0)); do
    case "$1" in
        --size-mb)
            SIZE_MB="${2:?--size-mb needs a value}"
            shift 2
            ;;
        --size-mb=*)
            SIZE_MB="${1#*=}"
            shift
            ;;
        --skip-criterion)
            RUN_CRITERION=0
            shift
            ;;
        --skip-cli)
            RUN_CLI=0
            shift
            ;;
        --skip-enrich)
            RUN_ENRICH=0
            shift
            ;;
        --skip-search)
            RUN_SEARCH=0
            shift
            ;;
        --log)
            LOG="${2:?--log needs a path}"
            shift 2
            ;;
        -h | --help)
            sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bench.sh: unknown argument: $1 (try --help)" >&2
            exit 2
            ;;
    esac
done
[[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || {
    echo "bench.sh: --size-mb must be a positive integer, got '$SIZE_MB'" >&2
    exit 2
}

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH_DIR="${TMPDIR:-/tmp}/keytrail-bench"
MONTH_DIR="$BENCH_DIR/month"
SEARCH_CONTEXT="customerId=cust-1234"

section() { printf '\n==> %s\n' "$*"; }
die() {
    printf 'bench.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

TIMELOG="$(mktemp)"
ERRLOG="$(mktemp)"
trap 'rm -f "$TIMELOG" "$ERRLOG"' EXIT

# Builds the release CLI once (for the CLI and search sections).
BIN="$TARGET_DIR/release/keytrail"
CLI_BUILT=0
build_cli() {
    ((CLI_BUILT)) && return 0
    section "build: cargo build --release -p keytrail-cli"
    cargo build --release -p keytrail-cli
    [[ -x "$BIN" ]] || die "built, but $BIN is missing (is CARGO_TARGET_DIR='${CARGO_TARGET_DIR:-}' right?)"
    CLI_BUILT=1
}

# /usr/bin/time (GNU time) gives the peak RSS; install it if we can, else measure
# with a Python stdlib wrapper (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss is the
# same number GNU time reports).
TIME_BIN=""
TIME_CHECKED=0
find_time() {
    ((TIME_CHECKED)) && return 0
    TIME_CHECKED=1
    if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
        TIME_BIN=/usr/bin/time
    elif command -v apt-get >/dev/null 2>&1; then
        local as_root=()
        if ((EUID != 0)); then
            command -v sudo >/dev/null 2>&1 && as_root=(sudo -n)
        fi
        if ((EUID == 0)) || ((${#as_root[@]} > 0)); then
            echo "bench.sh: /usr/bin/time missing; installing Debian package 'time'" >&2
            if { "${as_root[@]}" apt-get install -y time >/dev/null 2>&1 \
                || { "${as_root[@]}" apt-get update >/dev/null 2>&1 \
                    && "${as_root[@]}" apt-get install -y time >/dev/null 2>&1; }; } \
                && /usr/bin/time -v true >/dev/null 2>&1; then
                TIME_BIN=/usr/bin/time
            else
                echo "bench.sh: could not install 'time'" >&2
            fi
        fi
    fi
    [[ -n "$TIME_BIN" ]] || echo "bench.sh: no GNU time; measuring with python3 resource.getrusage instead" >&2
    return 0
}

# timed CMD...: runs CMD with stdout to /dev/null and sets WALL_S and MAXRSS_KB;
# exits with CMD's status (after printing its stderr) when it fails.
timed() {
    find_time
    local rc=0
    if [[ -n "$TIME_BIN" ]]; then
        "$TIME_BIN" -v -o "$TIMELOG" "$@" >/dev/null 2>"$ERRLOG" || rc=$?
        WALL_S="$(awk -F': ' '/Elapsed \(wall clock\) time/ {
            n = split($2, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            printf "%.2f", s }' "$TIMELOG")"
        MAXRSS_KB="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TIMELOG")"
    else
        python3 - "$TIMELOG" "$@" >/dev/null 2>"$ERRLOG" <<'EOF' || rc=$?
import resource, subprocess, sys, time
out = sys.argv[1]
t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:])
wall = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
with open(out, "w") as f:
    f.write(f"wall {wall:.2f}\nrss {rss}\n")
sys.exit(rc)
EOF
        WALL_S="$(awk '$1 == "wall" { print $2 }' "$TIMELOG")"
        MAXRSS_KB="$(awk '$1 == "rss" { print $2 }' "$TIMELOG")"
    fi
    if ((rc != 0)); then
        echo "bench.sh: $(basename "$1") exited with status $rc; its stderr:" >&2
        tail -n 30 "$ERRLOG" >&2
        exit "$rc"
    fi
    [[ -n "$WALL_S" && -n "$MAXRSS_KB" ]] || die "could not read the timing output: $(cat "$TIMELOG")"
}

# ---------------------------------------------------------------- 1. criterion
if ((RUN_CRITERION)); then
    section "criterion: cargo bench -p keytrail --bench reader -- --noplot"
    cargo bench -p keytrail --bench reader -- --noplot
    section "review: from summaries vs from raw logs (1440 deliveries): cargo bench -p keytrail --bench review"
    cargo bench -p keytrail --bench review
fi

# ---------------------------------------------------------------- 2. whole CLI
if ((RUN_CLI)); then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to generate the synthetic log"

    if [[ -z "$LOG" ]]; then
        LOG="$BENCH_DIR/cloudtrail-${SIZE_MB}mb-seed1.json.gz"
        if [[ -s "$LOG" ]]; then
            section "synthetic log: reusing $LOG"
        else
            section "synthetic log: generating ${SIZE_MB} MB (uncompressed) -> $LOG"
            python3 scripts/gen-big-log.py --size-mb "$SIZE_MB" --seed 1 "$LOG" >/dev/null
        fi
    fi
    [[ -s "$LOG" ]] || die "log file '$LOG' is missing or empty"

    build_cli

    COMPRESSED_BYTES="$(stat -c %s "$LOG")"
    UNCOMPRESSED_BYTES="$(gzip -dc "$LOG" | wc -c)"

    section "CLI: keytrail scan $LOG --json > /dev/null"
    timed "$BIN" scan "$LOG" --json

    awk -v file="$LOG" -v u="$UNCOMPRESSED_BYTES" -v c="$COMPRESSED_BYTES" \
        -v wall="$WALL_S" -v rss="$MAXRSS_KB" -v timer="${TIME_BIN:-python getrusage}" 'BEGIN {
        mb = 1000000
        printf "\n==> results (%s)\n", timer
        printf "    input                  %s\n", file
        printf "    input size             %.1f MB uncompressed, %.1f MB gzip\n", u / mb, c / mb
        printf "    wall time              %.2f s\n", wall
        if (wall > 0) printf "    throughput             %.1f MB/s (uncompressed input)\n", u / mb / wall
        printf "    Maximum resident set size  %d kB (%.1f MB)\n", rss, rss * 1024 / mb
        printf "    peak RSS / input size  %.2f%% of uncompressed, %.1f%% of compressed\n", \
            100 * rss * 1024 / u, 100 * rss * 1024 / c
    }'
fi

# ---------------------------------------------------------------- 3. enricher
if ((RUN_ENRICH)); then
    # Installs moto_server if missing and exports KEYTRAIL_MOTO_SERVER, as scripts/test.sh does.
    # shellcheck source=scripts/install-test-deps.sh
    source "$ROOT/scripts/install-test-deps.sh"
    keytrail_install_test_deps || die "could not install the test dependencies (moto_server); see scripts/test.sh"
    export KEYTRAIL_MOTO_SERVER

    section "enrich: cargo bench -p keytrail-tests --bench enrich"
    cargo bench -p keytrail-tests --bench enrich
fi

# ---------------------------------------------------------------- 4. search
if ((RUN_SEARCH)); then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to generate the month tree"

    section "month tree: scripts/gen-month-tree.py --days 30 --files-per-day 96 --records 60 --out $MONTH_DIR"
    python3 scripts/gen-month-tree.py --days 30 --files-per-day 96 --records 60 --out "$MONTH_DIR"
    MANIFEST="$MONTH_DIR/manifest"
    [[ -s "$MANIFEST" ]] || die "the generator wrote no manifest ($MANIFEST)"
    # The generator's totals (one JSON object, integers): files, records, *_bytes.
    manifest_value() {
        python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$MANIFEST" "$1"
    }
    MONTH_FILES="$(manifest_value files)"
    MONTH_RECORDS="$(manifest_value records)"
    MONTH_KMS="$(manifest_value kms_records)"
    MONTH_U="$(manifest_value uncompressed_bytes)"
    MONTH_C="$(manifest_value compressed_bytes)"

    build_cli

    section "search: keytrail search $MONTH_DIR --context $SEARCH_CONTEXT --json > /dev/null"
    timed "$BIN" search "$MONTH_DIR" --context "$SEARCH_CONTEXT" --json
    MATCHES="$("$BIN" search "$MONTH_DIR" --context "$SEARCH_CONTEXT" --json | wc -l)"

    awk -v dir="$MONTH_DIR" -v files="$MONTH_FILES" -v records="$MONTH_RECORDS" -v kms="$MONTH_KMS" \
        -v u="$MONTH_U" -v c="$MONTH_C" -v wall="$WALL_S" -v rss="$MAXRSS_KB" \
        -v matches="$MATCHES" -v ctx="$SEARCH_CONTEXT" -v timer="${TIME_BIN:-python getrusage}" 'BEGIN {
        mb = 1000000
        printf "\n==> search results (%s)\n", timer
        printf "    input                  %s\n", dir
        printf "    files                  %d (%d records, %d KMS)\n", files, records, kms
        printf "    input size             %.1f MB uncompressed, %.1f MB gzip\n", u / mb, c / mb
        printf "    wall time              %.2f s\n", wall
        if (wall > 0) printf "    throughput             %.1f MB/s (uncompressed input), %.0f files/s\n", u / mb / wall, files / wall
        printf "    Maximum resident set size  %d kB (%.1f MB)\n", rss, rss * 1024 / mb
        printf "    matches (%s)  %d\n", ctx, matches
    }'
fi
