#!/usr/bin/env bash
# keytrail performance table: the log processor's core against the decompression
# floor and against a Python peer, its memory on a large and a 10x smaller file, and
# `keytrail scan` on one and two threads (see bench/README.md).
#
#   scripts/bench.sh [--runs N] [--python-runs N] [--quick] [--seed N] [--regenerate]
#                    [--criterion] [--review] [--enrich] [--org] [--search] [--big-log]
#                    [--all] [--no-table]
#
#   --runs N         runs per command (default 5); the table shows the median wall
#                    time and the largest peak RSS of the runs
#   --python-runs N  runs of the Python peer (default: --runs, at most 3)
#   --quick          one run of everything, no warm-up (smoke test)
#   --seed N         workload seed (default 1)
#   --regenerate     regenerate the cached workloads
#
# Other benchmarks, off by default:
#   --criterion      criterion: shared/benches/reader.rs and shared/benches/catalog.rs
#   --review         criterion: shared/benches/review.rs (month review, summaries vs logs)
#   --enrich         the alarm enricher against moto_server (tests/bench_enrich.rs;
#                    installs moto_server as scripts/test.sh does)
#   --org            organisation scale (tests/bench_org.rs): the monthly review of
#                    1, 10 and 100 accounts on both engines (the summary engine
#                    projected from its measured per-file GET and merge costs; the
#                    Athena engine's query run by DuckDB, its Parquet bytes and cost),
#                    and the enricher's time and S3 requests per alarm against moto;
#                    installs moto_server, duckdb and sqlglot as scripts/test.sh does
#   --search         `keytrail search --context` over a generated month tree
#   --big-log        `keytrail scan` of a ~200 MB multi-member gzip log
#                    (`keytrail generate w1 --size-mb N --gzip-member-mb 32`;
#                    --size-mb N, --log PATH)
#   --parsers        the validating floor: serde_json, sonic-rs and simd-json
#                    checking W1 in memory (bench/parsers, a separate crate)
#   --all            all of the above, and the table
#   --no-table       skip the table (with one of the flags above)
#
# Workloads (`keytrail generate`, deterministic per seed) are cached in
# ${TMPDIR:-/tmp}/keytrail-bench/seed-N/{w1,w1-small,w2}/ and regenerated when
# missing. Single-core commands (decompress, core, Python peer) are pinned to CPU 0
# with taskset when it exists. PASS/FAIL marks targets; the exit status is 0 unless a
# command failed. The release binary is taken from $CARGO_TARGET_DIR (default:
# target/ in the repository).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=5
PY_RUNS=""
QUICK=0
SEED=1
REGENERATE=0
RUN_TABLE=1
RUN_CRITERION=0
RUN_REVIEW=0
RUN_ENRICH=0
RUN_ORG=0
RUN_SEARCH=0
RUN_BIG_LOG=0
RUN_PARSERS=0
SIZE_MB=200
LOG=""

positive_int() {
    [[ "$2" =~ ^[1-9][0-9]*$ ]] || {
        echo "bench.sh: $1 needs a positive integer, got '$2'" >&2
        exit 2
    }
}

while (($# > 0)); do
    case "$1" in
        --runs)
            RUNS="${2:-}"
            positive_int --runs "$RUNS"
            shift 2
            ;;
        --python-runs)
            PY_RUNS="${2:-}"
            positive_int --python-runs "$PY_RUNS"
            shift 2
            ;;
        --quick)
            QUICK=1
            shift
            ;;
        --seed)
            SEED="${2:-}"
            [[ "$SEED" =~ ^[0-9]+$ ]] || {
                echo "bench.sh: --seed needs an integer, got '$SEED'" >&2
                exit 2
            }
            shift 2
            ;;
        --regenerate)
            REGENERATE=1
            shift
            ;;
        --criterion)
            RUN_CRITERION=1
            shift
            ;;
        --review)
            RUN_REVIEW=1
            shift
            ;;
        --enrich)
            RUN_ENRICH=1
            shift
            ;;
        --org)
            RUN_ORG=1
            shift
            ;;
        --search)
            RUN_SEARCH=1
            shift
            ;;
        --big-log)
            RUN_BIG_LOG=1
            shift
            ;;
        --parsers)
            RUN_PARSERS=1
            shift
            ;;
        --size-mb)
            SIZE_MB="${2:-}"
            positive_int --size-mb "$SIZE_MB"
            shift 2
            ;;
        --log)
            LOG="${2:?--log needs a path}"
            shift 2
            ;;
        --all)
            RUN_CRITERION=1 RUN_REVIEW=1 RUN_ENRICH=1 RUN_ORG=1 RUN_SEARCH=1 RUN_BIG_LOG=1 RUN_PARSERS=1
            shift
            ;;
        --no-table)
            RUN_TABLE=0
            shift
            ;;
        -h | --help)
            sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bench.sh: unknown argument: $1 (try --help)" >&2
            exit 2
            ;;
    esac
done
if ((QUICK)); then
    RUNS=1
    PY_RUNS=1
fi
if [[ -z "$PY_RUNS" ]]; then
    PY_RUNS=$((RUNS < 3 ? RUNS : 3))
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH_ROOT="${TMPDIR:-/tmp}/keytrail-bench"
BENCH_DIR="$BENCH_ROOT/seed-$SEED"
BIN="$TARGET_DIR/release/keytrail"

section() { printf '\n==> %s\n' "$*" >&2; }
die() {
    printf 'bench.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TIMELOG="$WORK/time.log"
ERRLOG="$WORK/stderr.log"

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

# Seconds since the epoch with microseconds (GNU time's own wall clock has 10 ms
# resolution, too coarse for a 0.1 s decompression).
now() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        printf '%s\n' "${EPOCHREALTIME/,/.}"
    else
        date +%s.%N
    fi
}

# timed CMD...: runs CMD once with stdout to $WORK/stdout and sets WALL_S and
# MAXRSS_KB; exits with CMD's status (after printing its stderr) when it fails.
timed() {
    find_time
    local rc=0 t0 t1
    if [[ -n "$TIME_BIN" ]]; then
        t0="$(now)"
        "$TIME_BIN" -v -o "$TIMELOG" "$@" >"$WORK/stdout" 2>"$ERRLOG" || rc=$?
        t1="$(now)"
        WALL_S="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
        MAXRSS_KB="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TIMELOG")"
    else
        python3 - "$TIMELOG" "$@" >"$WORK/stdout" 2>"$ERRLOG" <<'EOF' || rc=$?
import resource, subprocess, sys, time
out = sys.argv[1]
t0 = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
with open(out, "w") as f:
    f.write(f"wall {wall:.4f}\nrss {rss}\n")
sys.exit(rc)
EOF
        WALL_S="$(awk '$1 == "wall" { print $2 }' "$TIMELOG")"
        MAXRSS_KB="$(awk '$1 == "rss" { print $2 }' "$TIMELOG")"
    fi
    if ((rc != 0)); then
        echo "bench.sh: '$*' exited with status $rc; its stderr:" >&2
        tail -n 30 "$ERRLOG" >&2
        exit "$rc"
    fi
    [[ -n "$WALL_S" && -n "$MAXRSS_KB" ]] || die "could not read the timing output: $(cat "$TIMELOG")"
}

# measure ID RUNS WARMUP CMD...: RUNS timed runs (after WARMUP untimed ones); records
# the median wall time and the largest peak RSS as MED_<ID> and RSS_<ID> (KiB), and
# keeps the last run's stdout as $WORK/<ID>.out.
measure() {
    local id="$1" runs="$2" warmup="$3"
    shift 3
    local i walls=() rss_max=0
    local shown="$*"
    shown="${shown//"$BENCH_DIR"\//}"
    shown="${shown//"$BIN"/keytrail}"
    printf '    %-11s %s (%d run(s))' "$id" "$shown" "$runs" >&2
    for ((i = 0; i < warmup; i++)); do
        timed "$@"
    done
    for ((i = 0; i < runs; i++)); do
        timed "$@"
        walls+=("$WALL_S")
        ((MAXRSS_KB > rss_max)) && rss_max="$MAXRSS_KB"
        printf ' %s' "$WALL_S" >&2
    done
    printf '\n' >&2
    cp "$WORK/stdout" "$WORK/$id.out"
    printf -v "MED_$id" '%s' "$(printf '%s\n' "${walls[@]}" | sort -g | awk '
        { v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    printf -v "RSS_$id" '%s' "$rss_max"
}

# Percentage of all CPUs' time spent busy over one second (from /proc/stat), or "?".
cpu_busy_percent() {
    local a b
    a="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat 2>/dev/null)" || a=""
    sleep 1
    b="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat 2>/dev/null)" || b=""
    if [[ -z "$a" || -z "$b" ]]; then
        echo "?"
        return 0
    fi
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; total = busy + y[2] - x[2]
        if (total > 0) printf "%d\n", 100 * busy / total + 0.5; else print "?" }'
}

# json_field FILE FIELD: an integer field of a one-line JSON object.
json_field() {
    python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"
}

# workload NAME ARGS...: generates `keytrail generate ARGS` into $BENCH_DIR/NAME
# (atomically) unless it is there; its summary is $BENCH_DIR/NAME/generate.json.
workload() {
    local name="$1" dir="$BENCH_DIR/$1"
    shift
    if ((REGENERATE == 0)) && [[ -s "$dir/generate.json" && -d "$dir/AWSLogs" ]]; then
        section "workload $name: reusing $dir"
        return 0
    fi
    section "workload $name: keytrail generate $* --seed $SEED --out $dir"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp"
    "$BIN" generate "$@" --seed "$SEED" --out "$dir.tmp" >"$dir.tmp/generate.json"
    mv "$dir.tmp" "$dir"
}

# The single log file of a W1-type workload.
log_file_of() {
    local f
    f="$(find "$1/AWSLogs" -type f -name '*.json.gz' | head -n 1)"
    [[ -n "$f" ]] || die "no .json.gz under $1/AWSLogs (delete $1 to regenerate)"
    printf '%s\n' "$f"
}

# ---------------------------------------------------------------- the table
if ((RUN_TABLE)); then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (the Python peer)"
    build_cli
    find_time
    mkdir -p "$BENCH_DIR"
    workload w1 w1
    workload w1-small w1 --records 6000
    workload w2 w2
    W1="$(log_file_of "$BENCH_DIR/w1")"
    W1S="$(log_file_of "$BENCH_DIR/w1-small")"
    W2="$BENCH_DIR/w2"
    W1_BYTES="$(json_field "$BENCH_DIR/w1/generate.json" uncompressed_bytes)"
    W1S_BYTES="$(json_field "$BENCH_DIR/w1-small/generate.json" uncompressed_bytes)"
    W2_BYTES="$(json_field "$BENCH_DIR/w2/generate.json" uncompressed_bytes)"
    W1_GZ="$(json_field "$BENCH_DIR/w1/generate.json" compressed_bytes)"
    W1S_GZ="$(json_field "$BENCH_DIR/w1-small/generate.json" compressed_bytes)"
    W2_GZ="$(json_field "$BENCH_DIR/w2/generate.json" compressed_bytes)"
    W1_RECORDS="$(json_field "$BENCH_DIR/w1/generate.json" records)"
    W1S_RECORDS="$(json_field "$BENCH_DIR/w1-small/generate.json" records)"
    W2_FILES="$(json_field "$BENCH_DIR/w2/generate.json" files)"
    W2_RECORDS="$(json_field "$BENCH_DIR/w2/generate.json" records)"

    PIN=()
    if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
        PIN=(taskset -c 0)
    fi
    WARMUP=$((QUICK ? 0 : 1))

    # Other work on the machine (a build, a test run) skews every row, most of all
    # the two-thread scan: how busy the CPUs were over the second before measuring
    # is printed with the table (the load average would still count our own build).
    BUSY="$(cpu_busy_percent)"
    if [[ "$BUSY" =~ ^[0-9]+$ ]] && ((BUSY >= 10)); then
        echo "bench.sh: WARNING: the CPUs were ${BUSY}% busy before measuring; the numbers will be off" >&2
    fi
    section "measuring: wall times of each run in seconds"
    measure decompress "$RUNS" "$WARMUP" "${PIN[@]}" "$BIN" core "$W1" --decompress-only
    measure validate "$RUNS" "$WARMUP" "${PIN[@]}" "$BIN" core "$W1" --validate-only
    measure core "$RUNS" "$WARMUP" "${PIN[@]}" "$BIN" core "$W1"
    measure core_small "$RUNS" "$WARMUP" "${PIN[@]}" "$BIN" core "$W1S"
    measure python "$PY_RUNS" 0 "${PIN[@]}" python3 bench/peer.py "$W1"
    measure scan1 "$RUNS" "$WARMUP" "$BIN" scan "$W2" --json --threads 1
    measure scan2 "$RUNS" "$WARMUP" "$BIN" scan "$W2" --json --threads 2

    # The peer must have counted what keytrail counted, or the ratio means nothing.
    AGREE="yes"
    for field in records kms_records datums; do
        a="$(json_field "$WORK/core.out" "$field")"
        b="$(json_field "$WORK/python.out" "$field")"
        if [[ "$a" != "$b" ]]; then
            AGREE="NO: $field keytrail $a, peer $b"
            break
        fi
    done

    CPU="$(awk -F': *' '/^(model name|Model|Hardware|cpu model)[[:space:]]*:/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    if [[ -z "$CPU" ]] && command -v lscpu >/dev/null 2>&1; then
        CPU="$(lscpu | awk -F': *' '/^Model name/ { print $2; exit }')"
    fi
    REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [[ "$REV" != unknown ]] && ! git diff --quiet HEAD -- 2>/dev/null; then
        REV="$REV (with uncommitted changes)"
    fi

    printf '\n'
    printf 'date: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'machine: %s, %s, nproc %s; CPUs busy before measuring: %s%%\n' \
        "$(uname -m)" "${CPU:-unknown CPU}" "$(nproc)" "$BUSY"
    printf 'keytrail: %s; runs: %s (Python peer: %s); timer: %s; single-core rows pinned: %s\n' \
        "$REV" "$RUNS" "$PY_RUNS" "${TIME_BIN:-python getrusage}" \
        "$( ((${#PIN[@]})) && echo "yes (taskset -c 0)" || echo "no (no taskset)")"
    printf 'W1: %s records, %.1f MB JSON, %.1f MB gzip; W1/10: %s records, %.1f MB, %.1f MB gzip; W2: %s files, %s records, %.1f MB, %.1f MB gzip\n' \
        "$W1_RECORDS" "$(awk -v b="$W1_BYTES" 'BEGIN { print b / 1e6 }')" "$(awk -v b="$W1_GZ" 'BEGIN { print b / 1e6 }')" \
        "$W1S_RECORDS" "$(awk -v b="$W1S_BYTES" 'BEGIN { print b / 1e6 }')" "$(awk -v b="$W1S_GZ" 'BEGIN { print b / 1e6 }')" \
        "$W2_FILES" "$W2_RECORDS" "$(awk -v b="$W2_BYTES" 'BEGIN { print b / 1e6 }')" "$(awk -v b="$W2_GZ" 'BEGIN { print b / 1e6 }')"
    printf 'peer agrees with keytrail core on W1 (records, kms_records, datums): %s\n\n' "$AGREE"

    # shellcheck disable=SC2154 # MED_* and RSS_* are set by measure via printf -v
    awk -v w1="$W1_BYTES" -v w1s="$W1S_BYTES" -v w2="$W2_BYTES" \
        -v t_dec="$MED_decompress" -v r_dec="$RSS_decompress" \
        -v t_val="$MED_validate" -v r_val="$RSS_validate" \
        -v t_pass="$(json_field "$WORK/validate.out" validate_seconds)" \
        -v t_core="$MED_core" -v r_core="$RSS_core" \
        -v t_small="$MED_core_small" -v r_small="$RSS_core_small" \
        -v t_py="$MED_python" -v r_py="$RSS_python" \
        -v t_s1="$MED_scan1" -v r_s1="$RSS_scan1" \
        -v t_s2="$MED_scan2" -v r_s2="$RSS_scan2" 'BEGIN {
        mib = 1024  # RSS is in KiB
        verdict_le = "FAIL"; verdict_ge = "FAIL"
        printf "| workload | command | median wall (s) | MB/s | peak RSS (MiB) | ratio | target | verdict |\n"
        printf "|---|---|---:|---:|---:|---|---|---|\n"
        row("W1", "keytrail core W1 --decompress-only", t_dec, w1, r_dec, "", "", "")
        # Not a target: the floor of any reader that checks the JSON. The whole
        # file is held in memory, then serde_json skips every value; the pass
        # alone (timed inside) plus decompression is what a streaming reader that
        # validates cannot beat.
        row("W1", "keytrail core W1 --validate-only", t_val, w1, r_val, sprintf("pass alone %.3f s; (decompress + pass)/decompress %.2f", t_pass, (t_dec + t_pass) / t_dec), "(floor)", "")
        r = t_core / t_dec
        row("W1", "keytrail core W1", t_core, w1, r_core, sprintf("core/decompress %.2f", r), "<= 1.3", r <= 1.3 ? "PASS" : "FAIL")
        big = r_core > r_small ? r_core : r_small
        row("W1/10", "keytrail core W1/10", t_small, w1s, r_small, sprintf("RSS W1 %.1f vs W1/10 %.1f MiB", r_core / mib, r_small / mib), "flat, <= 32 MiB", big <= 32 * mib ? "PASS" : "FAIL")
        r = t_py / t_core
        row("W1", "python3 bench/peer.py W1", t_py, w1, r_py, sprintf("python/core %.1f", r), ">= 15", r >= 15 ? "PASS" : "FAIL")
        row("W2", "keytrail scan W2 --json --threads 1", t_s1, w2, r_s1, "", "", "")
        r = t_s1 / t_s2
        row("W2", "keytrail scan W2 --json --threads 2", t_s2, w2, r_s2, sprintf("1 thread/2 threads %.2f", r), ">= 1.7", r >= 1.7 ? "PASS" : "FAIL")
    }
    function row(w, cmd, t, bytes, rss, ratio, target, verdict) {
        printf "| %s | `%s` | %.3f | %.0f | %.1f | %s | %s | %s |\n", w, cmd, t, bytes / 1e6 / t, rss / mib, ratio, target, verdict
    }'
fi

# ---------------------------------------------------------------- parsers
if ((RUN_PARSERS)); then
    # The workload and taskset, as the table uses them (generated if missing).
    build_cli
    mkdir -p "$BENCH_DIR"
    workload w1 w1
    W1="$(log_file_of "$BENCH_DIR/w1")"
    section "parsers: cargo build --release --manifest-path bench/parsers/Cargo.toml"
    PARSERS_TARGET="$TARGET_DIR/bench-parsers"
    CARGO_TARGET_DIR="$PARSERS_TARGET" cargo build --release --manifest-path bench/parsers/Cargo.toml
    PIN=()
    if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
        PIN=(taskset -c 0)
    fi
    section "parsers: the validating floor on W1 (keytrail core --decompress-only streams; compare with its row)"
    "${PIN[@]}" "$PARSERS_TARGET/release/keytrail-bench-parsers" "$W1" --runs "$RUNS"
fi

# ---------------------------------------------------------------- criterion
if ((RUN_CRITERION)); then
    section "criterion: cargo bench -p keytrail --bench reader -- --noplot"
    cargo bench -p keytrail --bench reader -- --noplot
    section "criterion: cargo bench -p keytrail --bench catalog -- --noplot"
    cargo bench -p keytrail --bench catalog -- --noplot
fi
if ((RUN_REVIEW)); then
    section "review: from summaries vs from raw logs (1440 deliveries): cargo bench -p keytrail --bench review"
    cargo bench -p keytrail --bench review
fi

# ---------------------------------------------------------------- big log
if ((RUN_BIG_LOG)); then
    build_cli
    if [[ -z "$LOG" ]]; then
        BIG_DIR="$BENCH_ROOT/big-${SIZE_MB}mb-seed1"
        LOG="$(find "$BIG_DIR" -name '*.json.gz' -print -quit 2>/dev/null || true)"
        if [[ -n "$LOG" && -s "$LOG" ]]; then
            section "synthetic log: reusing $LOG"
        else
            section "synthetic log: keytrail generate w1 --size-mb ${SIZE_MB} --gzip-member-mb 32 --seed 1 --out $BIG_DIR"
            rm -rf "$BIG_DIR"
            "$BIN" generate w1 --size-mb "$SIZE_MB" --gzip-member-mb 32 --seed 1 --out "$BIG_DIR" >/dev/null
            LOG="$(find "$BIG_DIR" -name '*.json.gz' -print -quit)"
        fi
    fi
    [[ -s "$LOG" ]] || die "log file '$LOG' is missing or empty"
    COMPRESSED_BYTES="$(stat -c %s "$LOG")"
    UNCOMPRESSED_BYTES="$(gzip -dc "$LOG" | wc -c)"
    section "CLI: keytrail scan $LOG --json > /dev/null"
    timed "$BIN" scan "$LOG" --json
    awk -v file="$LOG" -v u="$UNCOMPRESSED_BYTES" -v c="$COMPRESSED_BYTES" \
        -v wall="$WALL_S" -v rss="$MAXRSS_KB" 'BEGIN {
        mb = 1000000
        printf "    input        %s (%.1f MB uncompressed, %.1f MB gzip)\n", file, u / mb, c / mb
        printf "    wall time    %.2f s, %.1f MB/s of uncompressed input\n", wall, u / mb / wall
        printf "    peak RSS     %.1f MiB\n", rss / 1024
    }'
fi

# ---------------------------------------------------------------- enricher
if ((RUN_ENRICH)); then
    # Installs moto_server if missing and exports KEYTRAIL_MOTO_SERVER, as scripts/test.sh does.
    # shellcheck source=scripts/install-test-deps.sh disable=SC1091 # followed with shellcheck -x
    source "$ROOT/scripts/install-test-deps.sh"
    keytrail_install_test_deps || die "could not install the test dependencies (moto_server); see scripts/test.sh"
    export KEYTRAIL_MOTO_SERVER
    section "enrich: cargo bench -p keytrail-tests --bench enrich"
    cargo bench -p keytrail-tests --bench enrich
fi

# ---------------------------------------------------------------- organisation scale
if ((RUN_ORG)); then
    # shellcheck source=scripts/install-test-deps.sh disable=SC1091 # followed with shellcheck -x
    source "$ROOT/scripts/install-test-deps.sh"
    keytrail_install_test_deps || die "could not install the test dependencies (moto_server, duckdb, sqlglot); see scripts/test.sh"
    export KEYTRAIL_MOTO_SERVER
    section "org: cargo bench -p keytrail-tests --bench org --profile cli"
    # The cli profile (release optimisation without the Lambdas' fat LTO): the same code
    # speed for what is measured here, minutes less to build the SDK-linked binary.
    cargo bench -p keytrail-tests --bench org --profile cli
fi

# ---------------------------------------------------------------- search
if ((RUN_SEARCH)); then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to read the month tree's manifest"
    build_cli
    MONTH_DIR="$BENCH_ROOT/month-w2-seed1"
    SEARCH_CONTEXT="customerId=cust-1234"
    # W2, the reference month (30 days x 48 deliveries x 60 records, with digests);
    # `keytrail generate` prints what it wrote, kept as the manifest (not named *.json,
    # so that `keytrail search` does not read it as a log).
    MANIFEST="$MONTH_DIR/manifest"
    if [[ -s "$MANIFEST" ]]; then
        section "month tree: reusing $MONTH_DIR"
    else
        section "month tree: keytrail generate w2 --seed 1 --out $MONTH_DIR"
        rm -rf "$MONTH_DIR"
        mkdir -p "$MONTH_DIR"
        "$BIN" generate w2 --seed 1 --out "$MONTH_DIR" >"$MANIFEST.tmp"
        mv "$MANIFEST.tmp" "$MANIFEST"
    fi
    MONTH_U="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["uncompressed_bytes"])' "$MANIFEST")"
    section "search: keytrail search $MONTH_DIR --context $SEARCH_CONTEXT --json > /dev/null"
    timed "$BIN" search "$MONTH_DIR" --context "$SEARCH_CONTEXT" --json
    MATCHES="$(wc -l <"$WORK/stdout")"
    awk -v u="$MONTH_U" -v wall="$WALL_S" -v rss="$MAXRSS_KB" -v matches="$MATCHES" 'BEGIN {
        printf "    wall time    %.2f s, %.1f MB/s of uncompressed input\n", wall, u / 1e6 / wall
        printf "    peak RSS     %.1f MiB\n", rss / 1024
        printf "    matches      %d\n", matches
    }'
fi
