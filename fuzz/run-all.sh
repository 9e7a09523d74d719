#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 180) each, seeded with the domain examples. Stable toolchain works with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly flags). Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-180}
EX=${EXAMPLES:-testdata/examples}
export RUSTC_BOOTSTRAP=1
declare -A seeds=(
  [parse_usage]="usage_small.csv" [parse_fraud_events]="fraud_events.json" [parse_signins]="signins.json"
  [parse_activity_log]="activity_log_rest.json activity_log_records.json" [parse_billing]="billing.jsonl"
  [parse_customers]="customers.json" [parse_subscriptions]="subscriptions.json"
  [sniff]="usage_small.csv fraud_events.json signins.json billing.jsonl"
  [usage_chunked]=""
)
for t in "${!seeds[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  for f in ${seeds[$t]}; do cp "$EX/$f" "fuzz/corpus/$t/" 2>/dev/null || true; done
done
# usage_chunked reads its chunk size from the first byte: its seeds are the usage sample behind a few such bytes.
for b in 0 7 31 63; do
  { printf "\\$(printf '%03o' "$b")"; cat "$EX/usage_small.csv"; } >"fuzz/corpus/usage_chunked/seed-$b"
done
for t in $(printf '%s\n' "${!seeds[@]}" | sort); do
  echo "== $t (${SECONDS_EACH}s)"
  # usage_chunked parses on worker threads: LeakSanitizer counts their thread-local key buffers, still alive when it
  # checks, as leaks (a false positive), so leak detection is off for it alone.
  leaks=1; [ "$t" = usage_chunked ] && leaks=0
  cargo fuzz run -O "$t" "fuzz/corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 \
    -detect_leaks=$leaks 2>&1 \
    | grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|SUMMARY|panicked|ERROR" || true
done
if find fuzz/artifacts -type f 2>/dev/null | grep -q .; then echo "crashes found:"; find fuzz/artifacts -type f; exit 1; else echo "no crashes"; fi
