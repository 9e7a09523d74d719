#!/usr/bin/env bash
# NAB benchmark of the streaming anomaly scorer: `cspguard detect series` over every file of the DEV split, scored
# with the clean-room NAB scorer (all three profiles), printed beside NAB's published detectors on the same files,
# plus the scorer's single-thread speed.
#
#   bash bench/nab.sh                     # NAB files from $(dirname repo)/shared/nab
#   NAB_DIR=/path/to/nab bash bench/nab.sh
#
# NAB_DIR must hold nab_score.py, data/<subset>/*.csv, windows_dev.json and published_dev.json. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
NAB_DIR=${NAB_DIR:-$(dirname "$REPO")/shared/nab}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cspguard-target}
for f in nab_score.py windows_dev.json published_dev.json data; do
  if [ ! -e "$NAB_DIR/$f" ]; then
    echo "error: $NAB_DIR/$f not found: point NAB_DIR at the folder with NAB's DEV split and scorer" >&2
    exit 2
  fi
done

cargo build --release -q -p cspguard
BIN=$CARGO_TARGET_DIR/release/cspguard
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT

files=0
start=$(date +%s%N)
while IFS= read -r -d '' f; do
  rel=${f#"$NAB_DIR/data/"}
  mkdir -p "$RESULTS/$(dirname "$rel")"
  "$BIN" detect series --input "$f" --output "$RESULTS/$rel" 2>/dev/null || {
    echo "error: cspguard detect series failed on $f" >&2
    exit 1
  }
  files=$((files + 1))
done < <(find "$NAB_DIR/data" -name '*.csv' -print0 | sort -z)
elapsed_ms=$((($(date +%s%N) - start) / 1000000))

python3 "$NAB_DIR/nab_score.py" --data "$NAB_DIR/data" --windows "$NAB_DIR/windows_dev.json" \
  --results "$RESULTS" --profile all --json >"$RESULTS/scores.json"
python3 - "$RESULTS/scores.json" "$NAB_DIR/published_dev.json" "$files" "$elapsed_ms" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))["profiles"]
pub = json.load(open(sys.argv[2]))
profiles = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
rows = [("cspguard (this build)", {p: ours[p]["normalized"] for p in profiles})]
rows += [(name, s) for name, s in pub.items()]
rows.sort(key=lambda r: -r[1]["standard"])
print(f"NAB DEV split: {sys.argv[3]} files, scored by nab_score.py (threshold optimised per profile); "
      f"detect series took {int(sys.argv[4]) / 1000:.2f} s")
print(f"| {'detector':<25} | {'standard':>8} | {'low FP':>8} | {'low FN':>8} |")
print(f"|{'-' * 27}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
for name, s in rows:
    mark = "**" if name.startswith("cspguard") else ""
    cells = " | ".join(f"{s[p]:8.2f}" for p in profiles)
    print(f"| {mark + name + mark:<25} | {cells} |")
st = ours["standard"]
print(f"cspguard standard profile: {st['windows_detected']}/{st['windows_total']} windows detected, "
      f"{st['fp']} false-positive rows, threshold {st['threshold']:.4f}")
PY
cargo bench -q -p cspguard-anomaly --bench throughput 2>/dev/null | grep '^scorer:'
