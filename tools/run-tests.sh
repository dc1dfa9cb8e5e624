#!/bin/sh
# Run the whole test suite of a build tree and end with one line
# "N passed, N failed" (every Criterion test counted on its own).
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)

meson test -C "$build" --print-errorlogs --num-processes 2 \
	${MESON_TEST_ARGS:-} >"$build/meson-logs/run-tests.out" 2>&1
status=$?
# Show meson's own per-test lines and any failure details.
grep -v '^\s*$' "$build/meson-logs/run-tests.out" | tail -n 200
python3 "$here/test-summary.py" "$build/meson-logs/testlog.json"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
