#!/usr/bin/env bash
# Ingest through the HTTP API on this machine: `cspguard serve` on SQLite, a load generator on the same machine
# posting batches of sign-ins (durable before the 202), then the time from a fraud alert's POST to its alert.
#
#   bash bench/serve.sh            (CONCURRENCY=4 BATCH=500 DURATION=20)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cspguard-target}
cargo build --release -q -p cspguard --bin cspguard --example ingest_load
BIN=$CARGO_TARGET_DIR/release/cspguard
D=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$D"' EXIT
CSPGUARD_PASSWORD=bench-password-1 "$BIN" --data-dir "$D" users add bench --role admin-agent >/dev/null
TOKEN=$("$BIN" --data-dir "$D" users token bench 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" --data-dir "$D" serve --listen 127.0.0.1:$PORT 2>"$D/serve.log" & pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
"$CARGO_TARGET_DIR/release/examples/ingest_load" "http://127.0.0.1:$PORT" "$TOKEN" "${CONCURRENCY:-4}" "${BATCH:-500}" "${DURATION:-20}"
echo "target (issue 6): >= 20000 events/s, p99 POST->alert < 50 ms"
