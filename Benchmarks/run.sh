#!/usr/bin/env bash
# The tracktail benchmark. Builds tracktail (release, static Swift runtime) and the fake Track
# API (Benchmarks/sink, release), writes an NDJSON backlog, ships it through the real pipeline to
# the sink on 127.0.0.1 and prints one JSON line per run and a table: events/s, CPU seconds per
# million events, peak RSS, requests, lost and duplicated events. See Benchmarks/README.md.
#
#   Benchmarks/run.sh                      # backlog of 1M lines: a warm-up, then 3 runs
#   Benchmarks/run.sh faults               # the same with 5% of requests answered 503
#   Benchmarks/run.sh backlog faults       # both, interleaved: faulty events/s as % of clean
#   Benchmarks/run.sh live                 # 5,000 lines/s for 30 s: lag p50/p99, CPU % of a core
#   Benchmarks/run.sh sink                 # the fake API alone under a do-nothing client: its ceiling
#   EVENTS=200000 REPEAT=1 WARMUP=0 Benchmarks/run.sh
#   PEERS=syslog-ng Benchmarks/run.sh      # syslog-ng side by side, in the same run (if installed)
#   SET="batch=10 in_flight=4" Benchmarks/run.sh   # knobs of the configuration templates
#   SINK_ARGS="--429-rate 0.05 --latency-ms 20" Benchmarks/run.sh   # more faults
#   SINK=python Benchmarks/run.sh          # the slower Python twin of the sink, for comparison
#   OUT=results.jsonl Benchmarks/run.sh    # also append every JSON line to a file
#   KEEP=1 Benchmarks/run.sh               # keep every run's folder (configs, logs, first request body)
#   PROFILE=1 Benchmarks/run.sh            # perf record -g on tracktail: top symbols, perf.data kept
#   RATE=2000 DURATION=10 Benchmarks/run.sh live
#   FILES=5000 Benchmarks/run.sh files     # thousands of small files: start-up, one line each, restart
#   IDLE=60 FILES=20000 Benchmarks/run.sh files   # ... and the CPU it uses idle for 60 s
set -euo pipefail
bench="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$bench/.." && pwd)"
modes=("${@:-backlog}")
if [ "${modes[*]}" = files ]; then
  # Thousands of files (stdout output, no sink): see Benchmarks/harness/files.py.
  command -v python3 >/dev/null || { echo "Benchmarks/run.sh needs python3" >&2; exit 69; }
  echo "building tracktail (release)" >&2
  swift build -c release --static-swift-stdlib --package-path "$root" --product tracktail >&2
  args=(--tracktail "$(swift build -c release --static-swift-stdlib --package-path "$root" --show-bin-path)/tracktail"
        --files "${FILES:-5000}" --timeout "${TIMEOUT:-300}")
  if [ -n "${MAX_OPEN_FILES:-}" ]; then args+=(--max-open-files "$MAX_OPEN_FILES"); fi
  if [ -n "${OUT:-}" ]; then args+=(--out "$OUT"); fi
  if [ -n "${KEEP:-}" ]; then args+=(--keep); fi
  if [ -n "${IDLE:-}" ]; then args+=(--idle-seconds "$IDLE"); fi
  exec python3 "$bench/harness/files.py" "${args[@]}"
fi
for mode in "${modes[@]}"; do
  case "$mode" in
    backlog|faults|live|sink) ;;
    *) echo "usage: Benchmarks/run.sh [backlog] [faults] [live] | sink | files" >&2; exit 64 ;;
  esac
done
command -v python3 >/dev/null || { echo "Benchmarks/run.sh needs python3" >&2; exit 69; }

echo "building tracktail (release) and the fake Track API" >&2
args=("${modes[@]}" --sink "${SINK:-fast}")
if [ "${modes[*]}" != sink ]; then
  swift build -c release --static-swift-stdlib --package-path "$root" --product tracktail >&2
  args+=(--tracktail "$(swift build -c release --static-swift-stdlib --package-path "$root" --show-bin-path)/tracktail")
fi
if [ "${SINK:-fast}" = fast ] || [ "${modes[*]}" = sink ]; then
  swift build -c release --package-path "$bench/sink" >&2
  sinkbin="$(swift build -c release --package-path "$bench/sink" --show-bin-path)"
  args+=(--sink-bin "$sinkbin/track-sink" --load-bin "$sinkbin/sink-load")
fi
args+=(--events "${EVENTS:-1000000}" --repeat "${REPEAT:-3}" --warmup "${WARMUP:-200000}"
       --rate "${RATE:-5000}" --duration "${DURATION:-30}"
       --peers "${PEERS:-}" --sink-args "${SINK_ARGS:-}")
if [ -n "${OUT:-}" ]; then args+=(--out "$OUT"); fi
if [ -n "${KEEP:-}" ]; then args+=(--keep); fi
if [ -n "${PROFILE:-}" ]; then args+=(--profile); fi
if [ -n "${STRACE:-}" ]; then args+=(--strace); fi
if [ -n "${TIMEOUT:-}" ]; then args+=(--timeout "$TIMEOUT"); fi
for knob in ${SET:-}; do args+=(--set "$knob"); done
exec python3 "$bench/harness/bench.py" "${args[@]}"
