#!/usr/bin/env bash
# Long run of the property tests in shared/tests/properties.rs (issue 7).
#
#   scripts/fuzz.sh [CASES]        # CASES per property, default 1,000,000
#
# KEYTRAIL_FUZZ_IGNORED=1 also runs the properties marked #[ignore] (known failures).
# Prints the cases executed per property and in total, and the number of failed
# properties; exits non-zero when any property failed.
set -uo pipefail

cases="${1:-1000000}"
cases="${cases//[_,]/}"
case "$cases" in
    '' | *[!0-9]*) echo "usage: $0 [CASES]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
log="$(mktemp "${TMPDIR:-/tmp}/keytrail-fuzz.XXXXXX")"
extra=()
[ "${KEYTRAIL_FUZZ_IGNORED:-0}" = 1 ] && extra+=(--include-ignored)

echo "keytrail fuzz: $cases cases per property (log: $log)"
start=$(date +%s)
KEYTRAIL_PROPTEST_CASES="$cases" cargo test --release -p keytrail --test properties \
    -- --nocapture "${extra[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - start ))

echo
echo "== keytrail fuzz summary =="
grep -a '^keytrail-proptest: ' "$log" | sed 's/^keytrail-proptest: /  /'
total=$(grep -a '^keytrail-proptest: ' "$log" | sed -n 's/.* cases=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
failed=$(grep -a '^keytrail-proptest: .* status=FAILED' "$log" | wc -l)
panics=$(grep -ac 'minimal failing input' "$log")
echo "properties run:        $(grep -ac '^keytrail-proptest: ' "$log")"
echo "total cases executed:  $total"
echo "failed properties:     $failed"
echo "minimal failing inputs printed: $panics"
echo "wall time:             ${elapsed}s (including the build)"
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
    grep -a -B2 -A6 'minimal failing input' "$log"
    exit 1
fi
