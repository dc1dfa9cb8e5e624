#!/bin/sh
# Run the whole test suite of a build tree and end with one line
# "N passed, N failed" (every Criterion test counted on its own).
#
# Sanitizer reports (AddressSanitizer, LeakSanitizer, UBSan, TSan) of every
# process - test programs, their forked tests, and the ledge nodes they
# start - go to files under BUILD/sanitizer/; each report counts as a
# failure, since neither Criterion nor a killed child would fail on it.
#
# With FUZZ_RESULTS set (make test), the results of tools/scripts/fuzz.sh count
# too, one per fuzz target.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
san="$(cd "$build" && pwd)/sanitizer"

rm -rf "$san"
mkdir -p "$san" "$build/meson-logs"
# A log left by an earlier run must never be counted for this one.
rm -f "$build/meson-logs/testlog.json"
export ASAN_OPTIONS="log_path=$san/asan:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$san/ubsan:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="log_path=$san/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

meson test -C "$build" --print-errorlogs --num-processes 2 \
	${MESON_TEST_ARGS:-} >"$build/meson-logs/run-tests.out" 2>&1
status=$?
# Show meson's own per-test lines and any failure details.
grep -v '^\s*$' "$build/meson-logs/run-tests.out" | tail -n 200
python3 "$here/test-summary.py" "$build/meson-logs/testlog.json" "$san" \
	${FUZZ_RESULTS:+"$FUZZ_RESULTS"}
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
