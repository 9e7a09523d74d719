#!/usr/bin/env bash
# Detection speed: the engine alone (events/s on one core, streaming latency per event, state per customer), then
# `cspguard scan --from-start` end to end on the same simulated book (store reads, the event-time sort and decoding
# included): events, wall and CPU seconds of the scan itself (its report's `seconds` and `cpu_seconds`: user + system,
# all threads, 1/100 s resolution) and of the whole command (wait4; it also runs case intake, the credit check and the
# screening of new customers), events per second of each, peak RSS. The machine is shared, so each runs REPEAT times
# (default 3): best and median.
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
echo "== cspguard scan --from-start, end to end (SQLite, $d; load: $(cut -d' ' -f1-3 /proc/loadavg))"
report=$("$BIN" --data-dir "$d" scan --from-start --json)
runs=""
reports=""
for _ in $(seq "$REPEAT"); do
  # The whole command (the scan, then case intake, credit check and screening of new customers) from wait4, and the
  # scan itself from its report (`seconds`, `cpu_seconds`), run after run.
  runs+="$(python3 bench/measure.py --cpu -- "$BIN" --data-dir "$d" scan --from-start)"$'\n'
  reports+="$("$BIN" --data-dir "$d" scan --from-start --json)"$'\n'
done
python3 - "$report" "$runs" "$reports" <<'PY'
import json, statistics, sys
r = json.loads(sys.argv[1])
runs = [tuple(map(float, l.split())) for l in sys.argv[2].splitlines() if l.strip()]
reports = [json.loads(l) for l in sys.argv[3].splitlines() if l.strip()]
assert all(int(s) == 0 for _, _, s, _ in runs), "a scan failed"
n = r["events"]
def line(what, xs):
    xs = sorted(xs)
    return (f"  {what:<24} best {xs[0]:.3f}  median {statistics.median(xs):.3f}  -> "
            f"{n / xs[0]:,.0f} / {n / statistics.median(xs):,.0f} events per second")
rss = max(m for _, m, _, _ in runs) / 1024
per = r["checkpoint_bytes"] // max(r["customers_tracked"], 1)
print(f"scan: {n} events, {r['alerts_total']} alerts, {per} bytes of state per customer; {len(runs)} + {len(reports)} runs")
print(line("scan wall s:", [x["seconds"] for x in reports]))
if all(x.get("cpu_seconds") is not None for x in reports):
    print(line("scan CPU s:", [max(x["cpu_seconds"], 0.01) for x in reports]))
print(line("command wall s:", [w for w, _, _, _ in runs]))
print(line("command CPU s:", [c for _, _, _, c in runs]))
print(f"  peak RSS: {rss:.0f} MB (largest of the runs)")
PY
