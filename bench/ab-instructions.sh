#!/usr/bin/env bash
# Instructions per profile request (callgrind) of two builds of the example gateway, A and B,
# in front of the same release services: the figure that tells a change's cost on the hot
# path whatever the machine's load. A and B are directories holding a release `gateway`
# binary, e.g. a worktree's target of the commit before a change, and ours:
#
#   git worktree add /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target \
#     cargo build --release -p examples --bins)
#   cargo build --release -p examples --bins
#   bash bench/ab-instructions.sh /tmp/old-target/release target/release
#
# Prints one line per build: requests counted and instructions per request (user space of the
# gateway process, after a 2 s warm-up, over 4 s of wrk at 16 connections).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 <dir of build A> <dir of build B>" >&2; exit 2; }
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install valgrind wrk)" >&2; exit 1; }
done
TOKEN=ab-token-0123456789
GW=4310 USERS=4311 ORDERS=4312
ENV=(GATEWAY_TOKEN=$TOKEN GATEWAY_PORT=$GW USERS_SERVICE_PORT=$USERS ORDERS_SERVICE_PORT=$ORDERS RUST_LOG=warn GATEWAY_METRICS=0)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 300); do listening "$1" && return; sleep 0.1; done; echo "nothing on $1" >&2; exit 1; }
env "${ENV[@]}" target/release/users-service >/dev/null 2>&1 & PIDS+=($!)
env "${ENV[@]}" target/release/orders-service >/dev/null 2>&1 & PIDS+=($!)
wait_port $USERS; wait_port $ORDERS
for dir in "$1" "$2"; do
  out=$(mktemp -d)
  env "${ENV[@]}" valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$dir/gateway" >/dev/null 2>&1 &
  vpid=$!; PIDS+=("$vpid")
  wait_port $GW
  wrk -t1 -c16 -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW/users/42/profile" >/dev/null
  callgrind_control -z "$vpid" >/dev/null 2>&1
  requests=$(wrk -t1 -c16 -d4s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW/users/42/profile" | awk '/requests in/ { print $1 }')
  callgrind_control -d "$vpid" >/dev/null 2>&1
  kill "$vpid"; wait "$vpid" 2>/dev/null || true
  while listening $GW; do sleep 0.1; done
  ir=$(awk '/^summary:/ { print $2 }' "$out"/cg.*.1 2>/dev/null | sort -n | tail -1)
  rm -rf "$out"
  printf '%s\t%s requests\t%s instructions per request\n' "$dir" "$requests" "$((ir / requests))"
done
