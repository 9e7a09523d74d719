#!/usr/bin/env bash
# Detection speed: the engine alone (events/s on one core, streaming latency per event, state per customer), then
# `cspguard scan --from-start` end to end on the same simulated book (store reads, the event-time sort and decoding
# included): events, wall and CPU seconds (user + system of the scan process, all its threads), events per wall-second
# and per CPU-second, peak RSS. The machine is shared, so the scan runs REPEAT times (default 3): best and median.
#
#   bash bench/detect.sh                 # BENCH_OUT=dir keeps the book and database between runs
#   BIN=/path/to/cspguard bash bench/detect.sh   # measure another build on the same database (skips the engine bench)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cspguard-target}
OUT=${BENCH_OUT:-$(mktemp -d)}
REPEAT=${REPEAT:-3}
if [ -z "${BIN:-}" ]; then
  echo "== engine alone (cargo bench -p cspguard-detect)"
  cargo bench -q -p cspguard-detect --bench engine 2>/dev/null | grep -E "^(book|throughput|streaming|state)"
  cargo build --release -q -p cspguard
  BIN=$CARGO_TARGET_DIR/release/cspguard
fi
d="$OUT/detect-bench"
if [ ! -s "$d/cspguard.db" ]; then
  "$BIN" simulate --customers 300 --days 90 --seed 1 --out "$OUT/book" >/dev/null
  "$BIN" --data-dir "$d" import auto "$OUT/book" --quiet >/dev/null
fi
echo "== cspguard scan --from-start, end to end (SQLite, $d)"
report=$("$BIN" --data-dir "$d" scan --from-start --json)
runs=""
for _ in $(seq "$REPEAT"); do
  runs+="$(python3 bench/measure.py --cpu -- "$BIN" --data-dir "$d" scan --from-start)"$'\n'
done
python3 - "$report" "$runs" <<'PY'
import json, statistics, sys
r = json.loads(sys.argv[1])
runs = [tuple(map(float, l.split())) for l in sys.argv[2].splitlines() if l.strip()]
assert all(int(s) == 0 for _, _, s, _ in runs), "a scan failed"
n = r["events"]
wall = sorted(w for w, _, _, _ in runs)
cpu = sorted(c for _, _, _, c in runs)
rss = max(m for _, m, _, _ in runs) / 1024
per = r["checkpoint_bytes"] // max(r["customers_tracked"], 1)
print(f"scan: {n} events, {r['alerts_total']} alerts, {per} bytes of state per customer; {len(runs)} runs")
print(f"  wall s:   best {wall[0]:.3f}  median {statistics.median(wall):.3f}  -> "
      f"{n / wall[0]:,.0f} / {n / statistics.median(wall):,.0f} events per wall-second")
print(f"  CPU s:    best {cpu[0]:.3f}  median {statistics.median(cpu):.3f}  -> "
      f"{n / cpu[0]:,.0f} / {n / statistics.median(cpu):,.0f} events per CPU-second")
print(f"  peak RSS: {rss:.0f} MB (largest of the runs)")
PY
