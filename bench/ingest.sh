#!/usr/bin/env bash
# Ingest benchmark: `cspguard import usage` on a generated usage reconciliation CSV, beside DuckDB reading the same file
# and grouping cost per Azure subscription and day, in the same run.
#
#   bash bench/ingest.sh                 # 1,000,000 rows
#   ROWS="1000000 4000000" bash bench/ingest.sh   # also checks that peak memory stays flat as the file grows
#
# Prints, per size: rows, MB, wall seconds, rows/s, MB/s, peak RSS for cspguard; wall seconds for DuckDB; the ratio.
# Needs network access to PyPI once (DuckDB goes into bench/.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cspguard-target}
ROWS=${ROWS:-1000000}
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"

cargo build --release -q -p cspguard
BIN=$CARGO_TARGET_DIR/release/cspguard

if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q duckdb
fi
PY=bench/.venv/bin/python

printf '%-9s %8s | %9s %10s %8s %9s | %9s | %s\n' rows MB cspguard_s rows/s MB/s peak_RSS duckdb_s ratio
for n in $ROWS; do
  csv="$OUT/usage_$n.csv"
  if [ ! -s "$csv" ]; then
    "$BIN" simulate --usage-rows "$n" --seed 7 --out "$OUT/gen" >/dev/null
    mv "$OUT/gen/usage_bench.csv" "$csv"
  fi
  data="$OUT/data_$n"
  rm -rf "$data"
  # Page cache: both tools read the file once before timing, so neither pays for the first read from disk.
  cat "$csv" >/dev/null
  read -r cs_wall cs_rss cs_status < <($PY bench/measure.py -- "$BIN" --data-dir "$data" import usage "$csv" --quiet --json)
  dd_wall=$($PY bench/duckdb_baseline.py "$csv")
  $PY - "$n" "$csv" "$cs_wall" "$cs_rss" "$dd_wall" "$cs_status" <<'PY'
import os, sys
n, csv, cs, rss, dd, status = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
mb = os.path.getsize(csv) / 1e6
print(f"{n:<9} {mb:8.0f} | {cs:9.2f} {n/cs:10.0f} {mb/cs:8.1f} {rss/1024:7.0f}MB | {dd:9.2f} | {cs/dd:.2f}x DuckDB  (exit {status})")
PY
done
