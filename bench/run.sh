#!/usr/bin/env bash
# The gateway benchmark, one command: builds in release, starts the downstream services, starts
# each gateway in turn on the same port, drives the same load with wrk, and writes
# bench/results/results.md, bench/results/chart.svg and the ratio lines.
#
# Contenders: ours (examples `gateway`: macros, DI, guards), handwritten (plain axum +
# ClientProxy), nest-fastify and nest-express (the seed's NestJS gateway, Nest 11), nest12-fastify
# (the same gateway on Nest 12, bench/nest-gateway/v12). Downstream: our
# users/orders services, then (second series) the NestJS ones. Routes: GET /users/42/profile
# (auth + two parallel downstream calls + aggregation) and GET /users/42.
# Series `rust-nats` and `nest-nats`: the same, every gateway and service over NATS (the seed's
# second road; the shared NATS on 127.0.0.1:4222, `NATS_URL`), the services in queue groups;
# handwritten speaks TCP only and sits these out.
#
# Knobs: BENCH_SECONDS (per run, default 3, at most 20), BENCH_CONNECTIONS ("64 512"),
# BENCH_SERIES ("rust nest"), BENCH_CONTENDERS ("ours handwritten nest-fastify nest-express
# nest12-fastify"),
# BENCH_ROUNDS (3: how many times every contender is measured, in alternating order),
# BENCH_ONCE ("nest-express nest12-fastify": contenders measured in the first round only), BENCH_OUT
# (bench/results). With
# valgrind installed it also counts ours' and handwritten's instructions per profile request
# (callgrind), the figure that does not move with the machine's load.
# With two or more cores, wrk and the services are pinned to core 0 and the gateway has the last
# core to itself, so each gateway's figures are its own, not shared with the load around it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_RUN=${BENCH_SECONDS:-3}
(( SECONDS_PER_RUN > 20 )) && SECONDS_PER_RUN=20
CONNECTIONS=${BENCH_CONNECTIONS:-"64 512"}
SERIES=${BENCH_SERIES:-"rust nest rust-nats nest-nats"}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
CONTENDERS=${BENCH_CONTENDERS:-"ours handwritten nest-fastify nest-express nest12-fastify"}
ROUNDS=${BENCH_ROUNDS:-3}
# Every contender is measured ROUNDS times, one run each per round, the order alternating from
# round to round (ours, handwritten, nest-fastify, nest-express; then backwards; ...) so a drift
# of the machine falls on all alike; the report gives each figure's median and its spread.
# Contenders in BENCH_ONCE (default nest-express and nest12-fastify, which feed no ratio line)
# run in the first round only: the table shows their figures, without a spread, and the run is
# shorter (762 s with an incremental release build, where three rounds of every contender took
# 990 s).
ONCE=${BENCH_ONCE-nest-express nest12-fastify}
ORDER=""
for ((round = 1; round <= ROUNDS; round++)); do
  these=$CONTENDERS
  (( round > 1 )) && these=$(printf '%s\n' $CONTENDERS | grep -vxF -f <(printf '%s\n' $ONCE) | xargs)
  if (( round % 2 )); then ORDER="$ORDER $these"; else ORDER="$ORDER $(echo $these | tr ' ' '\n' | tac | xargs)"; fi
done
ROUTES="/users/42/profile /users/42"
TOKEN=bench-token-0123456789
GW=4300 USERS=4301 ORDERS=4302
# What our gateways (ours, handwritten) are started with.
GATEWAY_ENV=(GATEWAY_TOKEN=$TOKEN GATEWAY_PORT=$GW USERS_SERVICE_PORT=$USERS ORDERS_SERVICE_PORT=$ORDERS RUST_LOG=warn)
OUT=${BENCH_OUT:-bench/results}
mkdir -p "$OUT"
RAW="$OUT/raw.tsv"

say() { printf '\n== %s\n' "$*" >&2; }

say "tools"
if ! command -v wrk >/dev/null; then apt-get update && apt-get install -y wrk; fi
command -v node >/dev/null || { echo "Node.js 20+ is needed for the NestJS contenders" >&2; exit 1; }
npm ci --prefix bench/nest-gateway --no-audit --no-fund --loglevel=error
if [[ " $CONTENDERS " == *" nest12-fastify "* ]]; then
  npm ci --prefix bench/nest-gateway/v12 --no-audit --no-fund --loglevel=error
fi
npm ci --prefix tests/nest-peer --no-audit --no-fund --loglevel=error
if [[ " $SERIES " == *-nats* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/${NATS_URL##*:}") 2>/dev/null; then
  echo "no NATS at $NATS_URL: the NATS series are left out (start one: nats-server -a 127.0.0.1 -p 4222)" >&2
  SERIES=$(printf '%s\n' $SERIES | grep -v -- '-nats$' | xargs)
fi

say "cargo build --release"
cargo build --release -p examples --bins --features metrics

CORES=$(nproc)
LAST=$((CORES - 1))
PIN_GATEWAY=() PIN_LOAD=()
if (( CORES > 1 )); then PIN_GATEWAY=(taskset -c "$LAST"); PIN_LOAD=(taskset -c 0); fi
pin_load() { "${PIN_LOAD[@]}" "$@"; }

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing listens on $1" >&2; return 1
}

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
peak_rss_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port still held (by a previous contender, or anything else) would send the load elsewhere.
ensure_free() {
  for port in "$@"; do
    for _ in $(seq 1 100); do listening "$port" || continue 2; sleep 0.05; done
    echo "port $port is still taken: stop what listens there (ss -ltnp) and run again" >&2; exit 1
  done
}

start_services() { # rust|nest|rust-nats|nest-nats
  ensure_free "$USERS" "$ORDERS"
  local nats=()
  [[ $1 == *-nats ]] && nats=(NATS_URL="$NATS_URL" TRANSPORT=nats)
  if [[ $1 == rust* ]]; then
    # Not through a shell function: `$!` must be the service's own pid (taskset execs).
    env "${nats[@]}" USERS_SERVICE_PORT=$USERS RUST_LOG=warn "${PIN_LOAD[@]}" target/release/users-service & PIDS+=($!)
    env "${nats[@]}" ORDERS_SERVICE_PORT=$ORDERS RUST_LOG=warn "${PIN_LOAD[@]}" target/release/orders-service & PIDS+=($!)
  else
    (cd tests/nest-peer && exec env "${nats[@]}" "${PIN_LOAD[@]}" node seed-services.js users "$USERS") >/dev/null & PIDS+=($!)
    (cd tests/nest-peer && exec env "${nats[@]}" "${PIN_LOAD[@]}" node seed-services.js orders "$ORDERS") >/dev/null & PIDS+=($!)
  fi
  if [[ $1 == *-nats ]]; then
    sleep 2 # subscribed by then; the warm-up of each gateway follows
  else
    wait_port "$USERS"; wait_port "$ORDERS"
  fi
}

start_gateway() { # contender series; prints the pid
  local nats=()
  [[ $2 == *-nats ]] && nats=(NATS_URL="$NATS_URL" TRANSPORT=nats)
  case $1 in
    ours) env "${GATEWAY_ENV[@]}" "${nats[@]}" "${PIN_GATEWAY[@]}" target/release/gateway >/dev/null 2>&1 & ;;
    handwritten) env "${GATEWAY_ENV[@]}" "${PIN_GATEWAY[@]}" target/release/handwritten-gateway >/dev/null 2>&1 & ;;
    nest-fastify) (cd bench/nest-gateway && exec env "${nats[@]}" "${PIN_GATEWAY[@]}" node gateway.js fastify $GW $USERS $ORDERS $TOKEN) >/dev/null 2>&1 & ;;
    nest-express) (cd bench/nest-gateway && exec env "${nats[@]}" "${PIN_GATEWAY[@]}" node gateway.js express $GW $USERS $ORDERS $TOKEN) >/dev/null 2>&1 & ;;
    nest12-fastify) (cd bench/nest-gateway && exec env NEST_DIR=v12 "${nats[@]}" "${PIN_GATEWAY[@]}" node gateway.js fastify $GW $USERS $ORDERS $TOKEN) >/dev/null 2>&1 & ;;
  esac
  echo $!
}

# The steady figure: user-space instructions per profile request (callgrind), ours and
# handwritten, our services downstream. Counted over a fixed window after a warm-up, so start-up
# is not in it; the kernel's share is the same for both (the same syscalls per request).
INSTR="$OUT/instructions.tsv"
printf 'contender\trequests\tinstructions_per_request\n' > "$INSTR"
count_instructions() {
  if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    echo "valgrind not found: instructions per request not counted (apt-get install valgrind)" >&2
    return 0
  fi
  local contender bin dir vpid requests ir extra
  # `ours+metrics`: the same binary with Prometheus metrics recorded (GATEWAY_METRICS=1).
  # `ours+traces`: with its trace spans on and each logged as a JSON line when it closes
  # (RUST_LOG=info, LOG_FORMAT=json; to /dev/null). `ours` has both off (RUST_LOG=warn).
  for contender in ours ours+metrics ours+traces handwritten; do
    [[ " $CONTENDERS " == *" ${contender%+*} "* ]] || continue
    bin=gateway; [[ $contender == handwritten ]] && bin=handwritten-gateway
    case $contender in
      ours+metrics) extra=(GATEWAY_METRICS=1) ;;
      ours+traces) extra=(RUST_LOG=info LOG_FORMAT=json LOG_SPANS=close) ;;
      *) extra=(GATEWAY_METRICS=0) ;;
    esac
    dir=$(mktemp -d)
    ensure_free "$GW"
    env "${GATEWAY_ENV[@]}" "${extra[@]}" "${PIN_GATEWAY[@]}" valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "target/release/$bin" >/dev/null 2>&1 &
    vpid=$!; PIDS+=("$vpid")
    for _ in $(seq 1 200); do listening "$GW" && break; sleep 0.1; done
    say "$contender under callgrind (pid $vpid)"
    pin_load wrk -t1 -c16 -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW/users/42/profile" >/dev/null
    callgrind_control -z "$vpid" >/dev/null 2>&1
    requests=$(pin_load wrk -t1 -c16 -d4s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW/users/42/profile" | awk '/requests in/ { print $1 }')
    callgrind_control -d "$vpid" >/dev/null 2>&1
    kill "$vpid"; wait "$vpid" 2>/dev/null || true
    ir=$(awk '/^summary:/ { print $2 }' "$dir"/cg.*.1 2>/dev/null | sort -n | tail -1)
    rm -rf "$dir"
    if [[ -n $ir && -n $requests && $requests -gt 0 ]]; then
      printf '%s\t%s\t%s\n' "$contender" "$requests" "$((ir / requests))" | tee -a "$INSTR" >&2
    fi
  done
}

printf 'series\tcontender\troute\tconnections\trps\tp50_us\tp99_us\tp999_us\tcpu_s_per_10k\tpeak_rss_mb\terrors\n' > "$RAW"
TICK=$(getconf CLK_TCK)
for series in $SERIES; do
  say "downstream: $series services"
  start_services "$series"
  for contender in $ORDER; do
    [[ $series == *-nats && $contender == handwritten ]] && continue
    ensure_free "$GW"
    pid=$(start_gateway "$contender" "$series"); PIDS+=("$pid")
    wait_port "$GW"
    # The process doing the work (`exec` keeps the pid; taskset execs too).
    say "$contender (pid $pid) in front of the $series services"
    pin_load wrk -t1 -c64 -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW/users/42/profile" >/dev/null # warm-up
    for route in $ROUTES; do
      for conns in $CONNECTIONS; do
        before=$(cpu_ticks "$pid")
        line=$(pin_load wrk -t1 -c"$conns" -d"${SECONDS_PER_RUN}s" --timeout 5s -s bench/report.lua \
          -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW$route" | grep '^JSON ' | cut -c6-)
        after=$(cpu_ticks "$pid")
        rss=$(peak_rss_kb "$pid")
        python3 - "$series" "$contender" "$route" "$conns" "$line" "$before" "$after" "$TICK" "$rss" >> "$RAW" <<'PY'
import json, sys
series, contender, route, conns, line, before, after, tick, rss = sys.argv[1:]
r = json.loads(line)
seconds = r["duration_us"] / 1e6
cpu = (int(after) - int(before)) / int(tick)
per10k = cpu / max(r["requests"], 1) * 10_000
print("\t".join(map(str, [series, contender, route, conns, round(r["requests"] / seconds, 1), r["p50_us"], r["p99_us"],
      r["p999_us"], round(per10k, 3), round(int(rss) / 1024, 1), r["socket_errors"] + r["non2xx"]])))
PY
        tail -1 "$RAW" >&2
      done
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  [[ $series == rust ]] && count_instructions
  cleanup; PIDS=()
done

say "report"
python3 bench/report.py "$RAW" "$OUT" "$(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), ${SECONDS_PER_RUN}s per run"
