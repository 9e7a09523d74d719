#!/usr/bin/env bash
# Detection speed: the engine alone (events/s on one core, streaming latency per event, state per customer), then
# `cspguard scan --from-start` end to end on the same simulated book (store reads and decoding included).
#
#   bash bench/detect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cspguard-target}
OUT=${BENCH_OUT:-$(mktemp -d)}
echo "== engine (cargo bench -p cspguard-detect)"
cargo bench -q -p cspguard-detect --bench engine 2>/dev/null | grep -E "^(book|throughput|streaming|state)"
cargo build --release -q -p cspguard
BIN=$CARGO_TARGET_DIR/release/cspguard
d="$OUT/detect-bench"
if [ ! -s "$d/cspguard.db" ]; then
  "$BIN" simulate --customers 300 --days 90 --seed 1 --out "$OUT/book" >/dev/null
  "$BIN" --data-dir "$d" import auto "$OUT/book" --quiet >/dev/null
fi
echo "== cspguard scan --from-start (SQLite, $d)"
"$BIN" --data-dir "$d" scan --from-start --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
per = r["checkpoint_bytes"] // max(r["customers_tracked"], 1)
print("scan: %d events in %.2f s = %.0f events/s end to end; %d alerts; %d bytes of state per customer"
      % (r["events"], r["seconds"], r["events_per_second"], r["alerts_total"], per))'
read -r wall rss status < <(python3 bench/measure.py -- "$BIN" --data-dir "$d" scan --from-start)
echo "scan process: ${wall} s wall, peak RSS $((rss / 1024)) MB for 300 customers (events are ordered by an external merge sort in runs of 65,536)"
