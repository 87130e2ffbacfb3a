#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer and AddressSanitizer, each in its own build
# directory (a sanitized build shares nothing with the normal one).
#
#   Tests/sanitize.sh                 both, whole suite
#   Tests/sanitize.sh thread          one sanitizer
#   Tests/sanitize.sh address 'JSONTests|TOMLTests'   with a `swift test --filter`
#
# Slow (a sanitized build of everything, then the suite at a fraction of its normal speed):
# not part of .ci/run. Reports end the run with a failing status; known false positives are
# suppressed in Tests/tsan.supp and Tests/lsan.supp with the reason next to each entry.
set -uo pipefail
cd "$(dirname "$0")/.."

kinds=("${1:-thread}")
[ $# -eq 0 ] && kinds=(thread address)
filter=("${@:2}")

status=0
for kind in "${kinds[@]}"; do
  case "$kind" in
    thread)  scratch=.build/tsan ;;
    address) scratch=.build/asan ;;
    *) echo "unknown sanitizer: $kind (thread or address)" >&2; exit 64 ;;
  esac
  args=(--sanitize="$kind" --scratch-path "$scratch")
  [ -n "${SANITIZE_SKIP_BUILD:-}" ] && args+=(--skip-build)
  [ ${#filter[@]} -gt 0 ] && args+=(--filter "${filter[0]}")
  echo "== swift test ${args[*]}"
  log="$scratch/sanitize.log"
  reports="$PWD/$scratch/reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  # Reports go to files (log_path, one per process): the end-to-end tests run the sanitized
  # daemon as a child, whose stderr the test keeps to itself. halt_on_error=0: every report of
  # a run, not only the first.
  TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$reports/tsan suppressions=$PWD/Tests/tsan.supp ${TSAN_OPTIONS:-}" \
  ASAN_OPTIONS="log_path=$reports/asan ${ASAN_OPTIONS:-}" \
  LSAN_OPTIONS="suppressions=$PWD/Tests/lsan.supp ${LSAN_OPTIONS:-}" \
    swift test "${args[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  count=$(cat "$reports"/* 2>/dev/null | grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)' || true)
  echo "== $kind: exit $rc, $count sanitizer reports in $reports"
  for f in "$reports"/*; do [ -f "$f" ] && { echo "-- $f"; head -60 "$f"; }; done
  if [ "$rc" -ne 0 ] || [ "$count" -ne 0 ]; then status=1; fi
done
exit $status
