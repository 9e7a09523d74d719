#!/usr/bin/env bash
# Browser tests of the web console: simulate a small book, import and detect it with a playbook that plans a
# suspension awaiting approval, create one user per role (and a reseller-scoped one), serve on a free loopback port,
# then run the Playwright tests (tests/browser/*.test.mjs) in Debian's Chromium.
#
#   CSPGUARD_BIN=path/to/cspguard bash tests/browser/run.sh   # default: the newest cspguard in $CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")"

BIN=${CSPGUARD_BIN:-}
if [ -z "$BIN" ]; then
  target=${CARGO_TARGET_DIR:-../../target}
  BIN=$(ls -t "$target/release/cspguard" "$target/debug/cspguard" 2>/dev/null | head -n 1 || true)
fi
[ -x "$BIN" ] || { echo "no cspguard binary (build it, or set CSPGUARD_BIN)" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "/usr/bin/chromium is missing: apt-get install -y chromium" >&2; exit 1; }
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund

WORK=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
DATA=$WORK/data
mkdir -p "$DATA"
cg() { "$BIN" --data-dir "$DATA" "$@"; }

# Every case plans a suspension per Azure subscription; above 1 (money at risk) it needs two approvers, so one
# approval changes the count and leaves it awaiting the second. Dry run: nothing leaves the machine.
cat > "$DATA/cspguard.toml" <<'TOML'
[actions]
dry_run = true
two_approvers_above = "1"

[[playbooks]]
name = "suspend-for-review"
when = 'true'
actions = [ { type = "suspend_subscription" } ]
TOML

"$BIN" --data-dir "$WORK/sim" simulate --customers 40 --days 45 --seed 2 --out "$WORK/book" >/dev/null
cg import auto "$WORK/book" --detect --quiet >/dev/null

# A draft Microsoft exception request for the newest case, so the Exceptions page has a request to update.
CASE=$(cg cases list --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const v=JSON.parse(s);const c=(v.cases||v)[0];console.log(c.id)})")
cg exception open "$CASE" >/dev/null
export CSPGUARD_EXCEPTION_CASE=$CASE

export CSPGUARD_PASSWORD='browser tests password'
# dora is the user the user management admin disables and gives a token to.
for u in admin:global-admin agent:admin-agent billing:billing-admin usermgmt:user-management-admin dora:billing-admin; do
  cg users add "${u%%:*}" --role "${u#*:}" >/dev/null
done

PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
export CSPGUARD_URL="http://127.0.0.1:$PORT"
"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 100); do
  node -e "fetch(process.env.CSPGUARD_URL+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && break
  sleep 0.2
done

# A reseller-scoped agent, for a reseller that has customers in the book.
TOKEN=$(cg users token admin 2>/dev/null)
export CSPGUARD_RESELLER=$(TOKEN=$TOKEN node -e "
fetch(process.env.CSPGUARD_URL+'/api/v1/customers',{headers:{Authorization:'Bearer '+process.env.TOKEN}})
  .then(r=>r.json()).then(v=>{const c=v.customers.find(c=>c.reseller_mpn_id);if(!c)process.exit(1);console.log(c.reseller_mpn_id)})")
cg users add rita --role admin-agent --reseller "$CSPGUARD_RESELLER" >/dev/null

status=0
node --test --test-concurrency=1 ./*.test.mjs || status=$?
if [ "$status" -ne 0 ]; then echo "--- cspguard serve log"; tail -n 40 "$WORK/serve.log"; fi
exit "$status"
