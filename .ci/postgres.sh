#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on a loopback port for the test suite and prints the URL to use.
# Usage: source .ci/postgres.sh   (exports CSPGUARD_TEST_POSTGRES_URL; stops the server on exit)
set -euo pipefail
if ! command -v initdb >/dev/null 2>&1; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$PG_BIN" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  export PATH="$PG_BIN:$PATH"
fi
# A free loopback port unless one is given, so two runs on one machine do not collide.
PG_PORT=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
PG_DIR=$(mktemp -d /tmp/cspguard-pg.XXXXXX)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$PG_DIR"
  RUN_AS=(runuser -u postgres --)
fi
# Stop the server and remove its folder on exit, also when starting it failed.
trap '"${RUN_AS[@]}" pg_ctl -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"' EXIT
"${RUN_AS[@]}" initdb -D "$PG_DIR/data" -U cspguard --auth=trust >/dev/null
if ! "${RUN_AS[@]}" pg_ctl -D "$PG_DIR/data" -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off" \
    -l "$PG_DIR/log" -w start >/dev/null; then
  echo "PostgreSQL did not start; its log:" >&2
  cat "$PG_DIR/log" >&2
  exit 1
fi
export CSPGUARD_TEST_POSTGRES_URL="postgres://cspguard@127.0.0.1:$PG_PORT/postgres"
echo "PostgreSQL for tests at $CSPGUARD_TEST_POSTGRES_URL"
