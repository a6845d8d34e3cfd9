# Shared by the bench scripts (sourced, not run): logging, the temp dir, the processes a
# script starts and stops, and how busy the machine is. Set BENCH_NAME (the log prefix) and
# KEEP_TMP before sourcing; then call bench_tmp NAME once, and add every process started to
# PIDS. On exit, also on Ctrl-C, every process in PIDS is stopped (SIGTERM, SIGKILL after
# STOP_WAIT_TENTHS tenths of a second) and the temp dir removed unless KEEP_TMP=1.

log() { printf '%s %s: %s\n' "$(date +%H:%M:%S)" "$BENCH_NAME" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }
# has LIST WORD: whether the space-separated LIST holds WORD.
has() { [[ " $1 " == *" $2 "* ]]; }

PIDS=()
STOP_WAIT_TENTHS=${STOP_WAIT_TENTHS:-50}

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < STOP_WAIT_TENTHS; i++ )); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then log "kept temp dir $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}

# bench_tmp NAME: the temp dir $TMP (/tmp/school-dns-NAME.XXXXXX) and the traps that clean up.
bench_tmp() {
  TMP=$(mktemp -d "/tmp/school-dns-$1.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# wait_idle: waits up to $IDLE_WAIT seconds (default 20) for other processes to leave the
# machine idle (10% busy or less; the servers a script started are idle between runs), and
# sets BUSY to how busy it last was; warns when it never went idle.
wait_idle() {
  local waited=0 limit=${IDLE_WAIT:-20}
  BUSY=$(cpu_busy_pct)
  while awk -v b="$BUSY" 'BEGIN { exit !(b > 10) }' && (( waited < limit )); do
    (( waited == 0 )) && log "machine ${BUSY}% busy with other processes; waiting up to ${limit}s for it to go idle"
    BUSY=$(cpu_busy_pct)
    waited=$(( waited + 1 ))
  done
  if awk -v b="$BUSY" 'BEGIN { exit !(b > 10) }'; then
    log "warning: machine ${BUSY}% busy before this run (other processes): figures will be low and noisy"
  fi
}

# setup_pinning: with PIN=1 (the default), taskset and at least 2 CPUs, the command
# prefixes PIN_SERVER (CPU $SERVER_CPU, default 1), PIN_LOAD (CPU $LOAD_CPU, default 0) and
# PIN_UPSTREAM (CPU $UPSTREAM_CPU, default the load CPU); otherwise PIN=0 and empty ones.
setup_pinning() {
  PIN=${PIN:-1}
  if [[ $PIN == 1 ]]; then
    if ! command -v taskset >/dev/null; then
      log "taskset not found (apt-get install -y util-linux): running unpinned"; PIN=0
    elif (( $(nproc) < 2 )); then
      log "fewer than 2 CPUs: running unpinned"; PIN=0
    fi
  fi
  if [[ $PIN == 1 ]]; then
    PIN_SERVER=(taskset -c "${SERVER_CPU:-1}")
    PIN_LOAD=(taskset -c "${LOAD_CPU:-0}")
    PIN_UPSTREAM=(taskset -c "${UPSTREAM_CPU:-${LOAD_CPU:-0}}")
  else
    PIN_SERVER=() PIN_LOAD=() PIN_UPSTREAM=()
  fi
}

# How busy the whole machine is over one second, in % of all CPUs.
cpu_busy_pct() {
  local a b
  a=$(head -n1 /proc/stat); sleep 1; b=$(head -n1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { n = split(a, x, " "); split(b, y, " ");
    for (i = 2; i <= n; i++) { t += y[i] - x[i]; if (i == 5 || i == 6) idle += y[i] - x[i] }
    printf "%.1f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}

# write_wildcard_nsd: $TMP/nsd/nsd.conf and the zone $ZONE whose wildcard answers every name
# with $ZONE_ADDR, for NSD on $HOST:$AUTH_PORT (the upstream of the forwarding benches).
write_wildcard_nsd() {
  mkdir -p "$TMP/nsd"
  cat >"$TMP/nsd/$ZONE.zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 3600
@   IN SOA ns.$ZONE. hostmaster.$ZONE. 1 3600 900 604800 3600
@   IN NS  ns.$ZONE.
ns  IN A   127.0.0.1
*   IN A   $ZONE_ADDR
EOF
  cat >"$TMP/nsd/nsd.conf" <<EOF
server:
    ip-address: $HOST
    port: $AUTH_PORT
    do-ip4: yes
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$TMP/nsd"
    database: ""
    zonelistfile: "$TMP/nsd/zone.list"
    xfrdfile: "$TMP/nsd/xfrd.state"
    xfrdir: "$TMP/nsd"
    pidfile: "$TMP/nsd/nsd.pid"
    logfile: "$TMP/nsd/nsd.log"
    verbosity: 0
    hide-version: yes
    identity: ""
    # Response rate limiting is on by default (200 qps per client /24) and every
    # benchmark query comes from 127.0.0.1: switch it off.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "$ZONE"
    zonefile: "$TMP/nsd/$ZONE.zone"
EOF
  nsd-checkconf "$TMP/nsd/nsd.conf" || die "generated nsd.conf is invalid"
}
