#!/usr/bin/env bash
# Regenerates Sources/tracktail/Link/order.txt: the functions a release build of tracktail runs
# while it ships a backlog to the fake Track API with 5% of requests answered 503, in the order
# callgrind first lists them. Release builds hand it to the linker (--symbol-ordering-file, see
# Package.swift), which puts those functions side by side: the pages of code the daemon touches
# are then ~1.8 MB fewer than when they lie scattered among the Swift runtime's unused code.
#
#   Benchmarks/link-order.sh          # needs valgrind; about a minute
#
# Names that no longer exist are skipped by the linker, so a stale list costs memory, not
# correctness: run this again after large changes and commit the new list.
set -euo pipefail
bench="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$bench/.." && pwd)"
events="${EVENTS:-20000}"
command -v valgrind >/dev/null || { echo "Benchmarks/link-order.sh needs valgrind (callgrind)" >&2; exit 69; }

swift build -c release --static-swift-stdlib --package-path "$root" --product tracktail >&2
bin="$(readlink -f "$(swift build -c release --static-swift-stdlib --package-path "$root" --show-bin-path)/tracktail")"
swift build -c release --package-path "$bench/sink" >&2
sinkbin="$(swift build -c release --package-path "$bench/sink" --show-bin-path)"

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
python3 "$bench/harness/lines.py" "$events" -o "$work/lines.ndjson" >&2
"$sinkbin/track-sink" --port 0 --token bench-token --expect "$events" --fail-rate 0.05 \
  --stats-file "$work/stats.json" --ready-file "$work/port" --max-seconds 600 >"$work/sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port="$(cat "$work/port")"
mkdir "$work/state"
sed -e "s|{state_dir}|$work/state|" -e "s|{input}|$work/lines.ndjson|" \
    -e "s|{sink_url}|http://127.0.0.1:$port/api/track|" -e 's/{[a-z_]*=\([^{}]*\)}/\1/g' \
    "$bench/tracktail.toml" >"$work/tracktail.toml"
TRACKTAIL_TOKEN=bench-token valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  --compress-strings=no --demangle=no "$bin" run --config "$work/tracktail.toml" >"$work/tracktail.log" 2>&1 &
tracktail=$!
pids+=("$tracktail")
for _ in $(seq 3000); do grep -q complete_at "$work/stats.json" 2>/dev/null && break; sleep 0.1; done
grep -q complete_at "$work/stats.json" 2>/dev/null || { echo "not every event arrived; see the logs" >&2; cat "$work/tracktail.log" >&2; exit 1; }
kill -TERM "$tracktail"
wait "$tracktail" || true
# Functions of the tracktail binary (callgrind names them `fn=NAME` under `ob=BINARY`); those it
# could only name by address are left out.
awk -v ob="ob=$bin" '/^ob=/ { cur = $0 } /^fn=/ { if (cur == ob && substr($0, 4, 2) != "0x") print substr($0, 4) }' \
  "$work/callgrind.out" | awk '!seen[$0]++' >"$root/Sources/tracktail/Link/order.txt"
# SwiftPM does not see the list as an input of the link: remove the binary so the next build links again.
rm -f "$bin"
echo "wrote $(wc -l <"$root/Sources/tracktail/Link/order.txt") function names to Sources/tracktail/Link/order.txt" >&2
