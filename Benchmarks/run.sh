#!/usr/bin/env bash
# The tracktail benchmark: builds a release binary, generates an NDJSON backlog, runs the real
# pipeline against the loopback sink of ../shared/bench and prints events/s, CPU seconds per
# million events and peak RSS (one JSON line per run, from ../shared/bench/run.py).
#
#   Benchmarks/run.sh                 # backlog of 1M lines, 3 runs after a warm-up
#   Benchmarks/run.sh live            # 5,000 lines/s for 30 s: lag p50/p99 and CPU
#   EVENTS=200000 REPEAT=1 Benchmarks/run.sh
#   SINK_ARGS="--fail-rate 0.05" Benchmarks/run.sh   # with fault injection
#   SET="batch=10" Benchmarks/run.sh                 # knobs of Benchmarks/tracktail.toml (batch, linger, in_flight, buffer)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/../shared/bench"
mode="${1:-backlog}"
events="${EVENTS:-1000000}"
repeat="${REPEAT:-3}"

swift build -c release --static-swift-stdlib --package-path "$root" >&2
bin="$root/.build/release/tracktail"

cd "$bench"
common=(--name tracktail --config "$root/Benchmarks/tracktail.toml" --env TRACKTAIL_TOKEN=bench-token
        --cmd "$bin run --config {config}" --repeat "$repeat" --sink-args "${SINK_ARGS:-}")
if [ -n "${OUT:-}" ]; then common+=(--out "$OUT"); fi
for knob in ${SET:-}; do common+=(--set "$knob"); done
if [ "$mode" = live ]; then
  python3 run.py "${common[@]}" --mode live --rate "${RATE:-5000}" --duration "${DURATION:-30}"
else
  python3 run.py "${common[@]}" --mode backlog --events "$events" --warmup "${WARMUP:-200000}"
fi
