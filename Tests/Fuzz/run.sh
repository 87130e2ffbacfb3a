#!/usr/bin/env bash
# Builds the libFuzzer targets in Tests/Fuzz and runs each for SECONDS (default 60), one at
# a time, one process each.
#
#   Tests/Fuzz/run.sh [SECONDS] [TARGET...]      targets: json toml mapping http-response
#                                                         checkpoint dead-letter
#
# Each module a target needs is compiled straight from Sources/ with swiftc
# `-sanitize=fuzzer,address` (coverage for libFuzzer, AddressSanitizer for memory errors);
# the target file (Tests/Fuzz/Fuzz*.swift) defines LLVMFuzzerTestOneInput against the module's
# public API. Seeds: the hand-written ones in Tests/Fuzz/Seeds, the vendored corpora under
# Tests/Corpora when present, the example configurations and sample logs. New inputs go to
# .build/fuzz/corpus/TARGET (kept between runs), crashes to .build/fuzz/crashes/. A crash
# ends the script with a failing status and names the input: turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
shift || true
all=(json toml mapping http-response checkpoint dead-letter)
targets=("${@:-${all[@]}}")
[ $# -eq 0 ] && targets=("${all[@]}")

out=.build/fuzz
mkdir -p "$out/modules" "$out/bin" "$out/crashes" "$out/seeds/lines"
flags=(-sanitize=fuzzer,address -O -g -parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny
       -I "$out/modules" -I Sources/COpenSSL -I Sources/CZlib)
libs=(-lssl -lcrypto -lz)

built=" "
module() {   # module NAME: compile Sources/NAME into one object and a .swiftmodule, once
  local name=$1
  [[ $built == *" $name "* ]] && return
  # Kept from an earlier run while no source of the module (or this script) is newer.
  # (A stamp, not the object: swiftc leaves an unchanged object's time alone.)
  local stamp="$out/modules/$name.stamp"
  if [ -f "$stamp" ] && [ -z "$(find Sources/"$name" "$0" -newer "$stamp" -print -quit)" ]; then
    built+="$name "
    return
  fi
  echo "== module $name"
  swiftc "${flags[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$out/modules/$name.swiftmodule" \
    -c Sources/"$name"/*.swift -o "$out/modules/$name.o" 2> >(grep -v "warning: Cannot export local symbol" >&2)
  touch "$stamp"
  built+="$name "
}

deps() {
  case $1 in
    json) echo JSON ;;
    toml) echo TOML ;;
    mapping) echo JSON Pipeline ;;
    http-response) echo Posix HTTP ;;
    checkpoint) echo Posix JSON Pipeline Runtime Tail ;;
    dead-letter) echo Posix JSON Pipeline Runtime HTTP Ship ;;
    *) echo "unknown target: $1 (${all[*]})" >&2; exit 64 ;;
  esac
}

source_of() {
  case $1 in
    json) echo Tests/Fuzz/FuzzJSONLine.swift ;;
    toml) echo Tests/Fuzz/FuzzTOML.swift ;;
    mapping) echo Tests/Fuzz/FuzzMapping.swift ;;
    http-response) echo Tests/Fuzz/FuzzHTTPResponse.swift ;;
    checkpoint) echo Tests/Fuzz/FuzzCheckpoint.swift ;;
    dead-letter) echo Tests/Fuzz/FuzzDeadLetter.swift ;;
  esac
}

# Log lines, one input per file.
for f in Config/samples/*.ndjson Tests/Fixtures/Loggers/*; do
  [ -f "$f" ] || continue
  split -l 1 -a 4 "$f" "$out/seeds/lines/$(basename "$f")-"
done

seeds() {
  case $1 in
    json) echo Tests/Fuzz/Seeds/json "$out/seeds/lines" Tests/Corpora/JSONTestSuite/test_parsing ;;
    toml) echo Tests/Fuzz/Seeds/toml Config Tests/Corpora/toml-test ;;
    mapping) echo Tests/Fuzz/Seeds/json "$out/seeds/lines" ;;
    *) echo "Tests/Fuzz/Seeds/$1" ;;
  esac
}

status=0
summary=()
for t in "${targets[@]}"; do
  mods=$(deps "$t")
  for m in $mods; do module "$m"; done
  objects=()
  for m in $mods; do objects+=("$out/modules/$m.o"); done
  echo "== build fuzz-$t"
  swiftc "${flags[@]}" "$(source_of "$t")" "${objects[@]}" "${libs[@]}" -o "$out/bin/fuzz-$t" \
    2> >(grep -v "warning: Cannot export local symbol" >&2)
  corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  dirs=()
  for d in $(seeds "$t"); do [ -d "$d" ] && dirs+=("$d"); done
  echo "== run fuzz-$t for ${seconds}s (seeds: ${dirs[*]})"
  log="$out/fuzz-$t.log"
  set +e
  ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "$out/bin/fuzz-$t" "$corpus" "${dirs[@]}" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$t-" > "$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  secs=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  crash=$(grep -E 'Test unit written to' "$log" | sed 's/.*written to //' || true)
  line="$t: ${runs:-?} executions in ${seconds}s (${secs:-?}/s), exit $rc${crash:+, crash input $crash}"
  echo "$line"
  summary+=("$line")
  if [ $rc -ne 0 ]; then status=1; grep -E -A25 '==ERROR|Fatal error|panic|precondition' "$log" | head -40; fi
done
echo
printf '%s\n' "${summary[@]}"
exit $status
