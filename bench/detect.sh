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
print(f"scan: {r[\"events\"]} events in {r[\"seconds\"]:.2f} s = {r[\"events_per_second\"]:.0f} events/s end to end; "
      f"{r[\"alerts_total\"]} alerts; {r[\"checkpoint_bytes\"] // max(r[\"customers_tracked\"], 1)} bytes of state per customer")'
