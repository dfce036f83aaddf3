#!/usr/bin/env bash
# System calls and context switches per message, client and service, for two builds of the
# broker round-trip bench, A and B, in alternating rounds: the kernel's share of a message,
# which instruction counts (bench/service-instructions.sh) do not see. Each round runs our
# client against our service, 64 callers, one transport; `perf stat` counts each process's
# system calls for one second in the middle of the 3 s cell, divided by the cell's calls/s.
#
#   (builds as in bench/service-instructions.sh)
#   bash bench/service-syscalls.sh /tmp/bench-a /tmp/bench-b [mqtt] [rounds]
#
# Needs perf (linux-perf; root, or kernel.perf_event_paranoid <= -1 for tracepoints) and the
# brokers of .ci/run on their default ports.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 <bench A> <bench B> [transports] [rounds]" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
transports=${3:-nats,redis,mqtt,rmq}
rounds=${4:-3}
count() { # <pid> <output>: system calls and context switches of <pid> for one second
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$1" -o "$2" -- sleep 1 2>/dev/null || true
}
per() { # <counts file> <event> <calls/s>
  python3 -c "import sys
rows = [l.split(',') for l in open(sys.argv[1]) if sys.argv[2] in l]
n = float(rows[0][0]) if rows and rows[0][0].replace('.', '').isdigit() else float('nan')
print(f'{n / float(sys.argv[3]):.2f}')" "$@"
}
for transport in ${transports//,/ }; do
  for round in $(seq 1 "$rounds"); do
    for build in "$1" "$2"; do
      out=$(mktemp -d)
      BENCH_NEST=0 BENCH_CALLERS=64 BENCH_TRANSPORTS=$transport "$build" --bench >"$out/bench.log" 2>&1 &
      bench=$!
      sleep 1.8 # the service started (0.7 s) and the cell well under way
      service=$(pgrep -n -f -- "--serve $transport " || true)
      [[ -n $service ]] && count "$service" "$out/service" &
      count "$bench" "$out/client"
      wait
      rate=$(awk -F'|' -v t="$transport" '$2 ~ " "t" " && $3 ~ /ours → ours/ {gsub(/ /, "", $5); print $5}' "$out/bench.log")
      if [[ -z $rate || -z $service ]]; then
        echo "$transport $build: no figures (is the broker up? $out/bench.log)"
        continue
      fi
      printf '%-6s round %s %-24s %6s calls/s  client: %s syscalls %s switches  service: %s syscalls %s switches per message\n' \
        "$transport" "$round" "$build" "$rate" \
        "$(per "$out/client" sys_enter "$rate")" "$(per "$out/client" context-switches "$rate")" \
        "$(per "$out/service" sys_enter "$rate")" "$(per "$out/service" context-switches "$rate")"
      rm -rf "$out"
    done
  done
done
