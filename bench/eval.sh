#!/usr/bin/env bash
# Detection quality over several simulator seeds: for each seed, simulate a book, import it, scan, and score the alerts
# against the book's labels.json (`cspguard eval`). Prints each seed's table and the targets checked over all seeds.
#
#   bash bench/eval.sh                 # seeds 1-5, 300 customers x 90 days
#   SEEDS="1 2" CUSTOMERS=100 bash bench/eval.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cspguard-target}
SEEDS=${SEEDS:-"1 2 3 4 5"}
CUSTOMERS=${CUSTOMERS:-300}
DAYS=${DAYS:-90}
OUT=${EVAL_OUT:-$(mktemp -d)}
cargo build --release -q -p cspguard
BIN=$CARGO_TARGET_DIR/release/cspguard
for s in $SEEDS; do
  d="$OUT/seed$s"
  rm -rf "$d"
  "$BIN" simulate --customers "$CUSTOMERS" --days "$DAYS" --seed "$s" --out "$d/book" >/dev/null
  "$BIN" --data-dir "$d/data" import auto "$d/book" --quiet >/dev/null || [ $? = 3 ]
  "$BIN" --data-dir "$d/data" scan >/dev/null
  echo "== seed $s"
  "$BIN" --data-dir "$d/data" eval --labels "$d/book/labels.json"
  "$BIN" --data-dir "$d/data" eval --labels "$d/book/labels.json" --json >"$d/eval.json"
done
python3 - "$OUT" $SEEDS <<'PY'
import json, sys, statistics
out, seeds = sys.argv[1], sys.argv[2:]
evals = [json.load(open(f"{out}/seed{s}/eval.json")) for s in seeds]
kinds = {}
for e in evals:
    for k in e["kinds"]:
        kinds.setdefault(k["kind"], []).append(k)
print(f"\n== over {len(seeds)} seeds")
ok = True
for kind, rows in sorted(kinds.items()):
    inc = sum(r["incidents"] for r in rows); det = sum(r["detected"] for r in rows)
    recall = det / inc if inc else 0
    delays = [r["median_delay_hours"] for r in rows if r["median_delay_hours"] is not None]
    med = statistics.median(delays) if delays else None
    line = f"{kind:<20} recall {det}/{inc} = {recall:.0%}; median of per-seed median delays {med if med is None else round(med, 2)} h"
    if recall < 0.95: ok = False; line += "  <- recall under 95%"
    if kind == "cryptojacking" and (med is None or med > 1.0): ok = False; line += "  <- delay over 1 h"
    print(line)
fa = sum(e["false_alerts"] for e in evals); cd = sum(e["customer_days"] for e in evals)
rate = fa * 1000 / cd
ben = sum(e["benign_alerted"] for e in evals); bt = sum(e["benign_total"] for e in evals)
print(f"false alerts {fa} over {cd} customer-days = {rate:.2f} per 1,000 (target <= 1); benign look-alikes alerted {ben} of {bt} (target 0)")
if rate > 1 or ben > 0: ok = False
print("targets:", "met" if ok else "NOT met")
PY
