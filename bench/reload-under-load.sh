#!/usr/bin/env bash
# Reload under load: school-dns holds every list in ../shared/data (about 1.5 million names)
# and answers a steady dnsperf load while the lists are rebuilt and swapped several times.
# Reports lost queries and latency percentiles for the run with reloads and for a run
# without, from the same server. Target (issue 3): no query lost, p99 under 5 ms.
#
#   bash bench/reload-under-load.sh
#
# Knobs: RELOAD_QPS=5000 (dnsperf -Q), RELOAD_DURATION=45 (s per run), RELOAD_COUNT=4, RELOAD_NODE_FLAGS=""
# (reloads during the loaded run), SHARED_DATA=../shared/data. Everything is on 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
QPS=${RELOAD_QPS:-5000}
DURATION=${RELOAD_DURATION:-45}
COUNT=${RELOAD_COUNT:-4}
DATA=$(realpath "${SHARED_DATA:-$ROOT/../shared/data}")
AUTH_PORT=${RELOAD_AUTH_PORT:-5410}
PORT=${RELOAD_PORT:-5411}
ADMIN_PORT=${RELOAD_ADMIN_PORT:-9161}
HOST=127.0.0.1
ZONE=bench.test

BENCH_NAME=reload-bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
for tool in nsd dnsperf node; do command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install nsd dnsperf)" >&2; exit 1; }; done
[[ -d $DATA ]] || { echo "no list data at $DATA" >&2; exit 1; }

bench_tmp reload

(cd "$ROOT" && npm run --silent build)

# The upstream: NSD with a wildcard zone, so every bench name resolves.
ZONE_ADDR=192.0.2.1
write_wildcard_nsd
nsd -d -c "$TMP/nsd/nsd.conf" >"$TMP/nsd/stdout.log" 2>&1 &
PIDS+=($!)

# school-dns with every list: the policy's one group blocks all 22 categories.
node "$BENCH/make-big-policy.js" "$TMP" "$DATA" >&2
# One list is read from a copy we can touch: a new mtime makes each reload a full rebuild.
cp "$DATA/stevenblack/hosts" "$TMP/touchable.hosts"
sed -i "s|\"$DATA/stevenblack/hosts\"|\"$TMP/touchable.hosts\"|" "$TMP/policy.yaml"
grep -q touchable "$TMP/policy.yaml" || { echo "could not redirect a list to $TMP/touchable.hosts" >&2; exit 1; }
cat >"$TMP/config.yaml" <<C
server: { listen: ["$HOST:$PORT"] }
admin: { listen: "$HOST:$ADMIN_PORT" }
resolver: { mode: forward, upstreams: ["$HOST:$AUTH_PORT"] }
policy: { file: policy.yaml }
log: { level: warn, format: json }
C
START=$(date +%s.%N)
node ${RELOAD_NODE_FLAGS:-} "$ROOT/dist/cli/main.js" serve --config "$TMP/config.yaml" >"$TMP/school-dns.log" 2>&1 &
SDNS=$!
PIDS+=($SDNS)
for i in $(seq 120); do
  node "$BENCH/probe.js" "$HOST" "$PORT" "probe$i.$ZONE" 1 192.0.2.1 2>/dev/null && break
  sleep 0.5
done
log "school-dns up after $(echo "$(date +%s.%N) - $START" | bc) s; RSS $(($(ps -o rss= -p $SDNS) / 1024)) MB"
curl -s "http://$HOST:$ADMIN_PORT/healthz" >&2; echo >&2

# Queries: 2000 names under bench.test (cache hits after a warm-up pass) and 2000 blocked
# names taken from the lists (answered by the filter), interleaved: every query walks the trie.
node -e '
const fs = require("fs"); const out = [];
const blocked = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => /^[a-z0-9.-]+$/.test(l)).slice(0, 2000);
for (let i = 0; i < 2000; i++) { out.push(`n${i}.bench.test A`); out.push(`${blocked[i % blocked.length]} A`); }
fs.writeFileSync(process.argv[2], out.join("\n") + "\n");
' "$DATA/blocklistproject/alt-version/phishing-nl.txt" "$TMP/queries.txt"
dnsperf -s $HOST -p $PORT -d "$TMP/queries.txt" -n 1 -c 4 -t 2 >/dev/null 2>&1 || true

run() { # NAME: one loaded run; with reloads when NAME is "reloads"
  local name=$1
  dnsperf -s $HOST -p $PORT -d "$TMP/queries.txt" -l "$DURATION" -Q "$QPS" -c 4 -q 200 -t 2 -v >"$TMP/$name.out" 2>&1 &
  local perf=$!
  if [[ $name == reloads ]]; then
    sleep 3
    for i in $(seq "$COUNT"); do
      touch "$TMP/touchable.hosts"
      curl -s -X POST "http://$HOST:$ADMIN_PORT/reload" -o "$TMP/reload-$i.json"
      log "reload $i: $(node -e 'const r=require(process.argv[1]); console.log(`ok=${r.ok} changed=${r.changed} names=${r.names} ${Math.round(r.durationMs)} ms`)' "$TMP/reload-$i.json"); RSS $(($(ps -o rss= -p $SDNS) / 1024)) MB"
      sleep 2
    done
  fi
  wait "$perf" || true
  node "$BENCH/parse-dnsperf.js" "$TMP/$name.out" "{\"run\":\"$name\",\"qps_target\":$QPS}"
}
log "baseline: $QPS qps for $DURATION s, no reloads"
BASE=$(run baseline)
log "loaded: $QPS qps for $DURATION s, $COUNT full rebuilds of $(node -e 'console.log(require(process.argv[1]).names)' "$TMP/reload-1.json" 2>/dev/null || echo 1.5M) names"
RELOADS=$(run reloads)
node -e '
const [b, r] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
const row = (x) => `${x.run.padEnd(9)} sent ${x.sent} lost ${x.lost} qps ${Math.round(x.qps)}  p50 ${x.p50LatencyMs} ms  p99 ${x.p99LatencyMs} ms  p99.9 ${x.p999LatencyMs} ms  max ${x.maxLatencyMs} ms`;
console.log(row(b)); console.log(row(r));
console.log(`target: no query lost and p99 < 5 ms during reloads -> ${r.lost === 0 && r.p99LatencyMs < 5 ? "MET" : "NOT MET"}`);
' "$BASE" "$RELOADS"
echo "RSS at the end: $(($(ps -o rss= -p $SDNS) / 1024)) MB"
