#!/usr/bin/env bash
# Runs every fuzz target with libFuzzer (cargo fuzz, on stable Rust: no sanitizer), from and
# into its committed corpus (fuzz/corpus/<target>), and prints one pass/fail line per target
# with its executions. A crash leaves its input in fuzz/artifacts/<target>/ and fails the run.
#
#   bash fuzz/run.sh                      # 10 M executions per target (the release bar)
#   FUZZ_SECONDS=20 bash fuzz/run.sh      # 20 s per target (what CI runs)
#   FUZZ_TARGETS="frames path" bash fuzz/run.sh
#
# FUZZ_JOBS targets run at once (default 2, one per core here). Needs cargo-fuzz
# (`cargo install cargo-fuzz`).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets=${FUZZ_TARGETS:-frames packet pattern path body}
jobs=${FUZZ_JOBS:-2}
if [ -n "${FUZZ_SECONDS:-}" ]; then
  limit=(-max_total_time="$FUZZ_SECONDS")
else
  limit=(-runs="${FUZZ_RUNS:-10000000}")
fi
fuzz=(cargo fuzz run --features libfuzzer --sanitizer none)
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 1
fi
# Build once, then run.
for target in $targets; do
  "${fuzz[@]}" "$target" -- -runs=0 >/dev/null 2>&1 || { echo "cannot build $target" >&2; exit 1; }
done
logs=$(mktemp -d)
run() {
  local target=$1 started=$SECONDS
  mkdir -p "fuzz/corpus/$target"
  "${fuzz[@]}" "$target" "fuzz/corpus/$target" -- "${limit[@]}" -max_len=4096 \
    >"$logs/$target.log" 2>&1
  local rc=$? runs
  runs=$(grep -oE '^Done [0-9]+ runs' "$logs/$target.log" | grep -oE '[0-9]+' | tail -1)
  if [ $rc -eq 0 ]; then
    printf 'pass  fuzz %-8s %s executions in %d s\n' "$target" "${runs:-?}" $((SECONDS - started))
  else
    printf 'FAIL  fuzz %-8s crashed after %d s:\n' "$target" $((SECONDS - started))
    grep -E "panicked at|Test unit written|^Base64" -A1 "$logs/$target.log" | head -8
  fi
  return $rc
}
failed=0
running=0
for target in $targets; do
  run "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
rm -rf "$logs"
exit $failed
