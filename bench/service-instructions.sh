#!/usr/bin/env bash
# Instructions per message (callgrind) of our broker services, for two builds of the broker
# round-trip bench, A and B: the service-side figure the machine's load does not move. Each
# build's bench runs our client against our service, 64 callers, one round (`BENCH_ROUNDS=1`),
# `BENCH_SECS` (default 3) per transport, with the service under callgrind; the figure is the
# service process's whole count (its start and connect included: under 1%) over the messages
# it dispatched.
#
#   git worktree add /tmp/old <commit>
#   (cd /tmp/old && cargo bench -p gateway-core --all-features --bench broker_roundtrip --no-run)
#   cp <the executable it names> /tmp/bench-a
#   cargo bench -p gateway-core --all-features --bench broker_roundtrip --no-run
#   cp <the executable it names> /tmp/bench-b
#   bash bench/service-instructions.sh /tmp/bench-a /tmp/bench-b [nats,redis,mqtt,rmq]
#
# Needs valgrind and the brokers of .ci/run on their default ports.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 <bench A> <bench B> [transports]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
transports=${3:-nats,redis,mqtt,rmq}
for transport in ${transports//,/ }; do
  for build in "$1" "$2"; do
    out=$(mktemp -d)
    BENCH_NEST=0 BENCH_ROUNDS=1 BENCH_CALLERS=64 BENCH_TRANSPORTS=$transport \
      BENCH_SERVICE_WRAP="valgrind --tool=callgrind --callgrind-out-file=$out/service.%p" \
      "$build" --bench >"$out/bench.log" 2>&1
    profile=$(ls "$out"/service.* 2>/dev/null | head -1)
    if [[ -z $profile ]]; then
      echo "$transport $build: no profile (is the broker up? $out/bench.log)"
      continue
    fi
    python3 - "$transport" "$build" "$profile" <<'EOF'
import sys
transport, build, path = sys.argv[1:4]
total = dispatched = 0
cfn = None
for line in open(path, errors="replace"):
    if line.startswith("cfn="):
        cfn = line
    elif line.startswith("calls=") and "gateway_core::server::dispatch::dispatch\n" in (cfn or ""):
        dispatched += int(line.split()[0][6:])
    elif line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
# Function names may be compressed: `cfn=(id) name` the first time, `cfn=(id)` after.
if dispatched == 0:
    ids = {}
    for line in open(path, errors="replace"):
        if line.startswith(("fn=(", "cfn=(")) and " " in line:
            key, name = line.split("=", 1)[1].split(" ", 1)
            ids[key] = name.strip()
    target = {k for k, v in ids.items() if v == "gateway_core::server::dispatch::dispatch"}
    cfn = None
    for line in open(path, errors="replace"):
        if line.startswith("cfn="):
            cfn = line[4:].split(" ", 1)[0].strip()
        elif line.startswith("calls=") and cfn in target:
            dispatched += int(line.split()[0][6:])
print(f"{transport:6} {build}: {dispatched:8,} messages, {total / max(dispatched, 1):8,.0f} instructions per message")
EOF
    rm -rf "$out"
  done
done
