#!/bin/sh
# Run every libFuzzer target of tests/fuzz for SECONDS each (default 30;
# the long form is 600), in the tree build-fuzz (clang, ASan+UBSan).
#
#   tools/scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Each target starts from its seed corpus (tests/fuzz/corpus/NAME) plus
# what earlier runs found (build-fuzz/corpus/NAME).  A crash, leak, hang
# or failed oracle is copied into tests/fuzz/corpus/NAME/ (so that
# fuzz_replay_test keeps running it once it is fixed) and the script
# fails.  Prints one line per target ("fuzz NAME: N runs in S s, ok" or
# "fuzz NAME: FAILED after N runs (exit C): CAUSE [in FUNC at FILE:LINE];
# input kept as ...", CAUSE being the first line of the report) and writes
# them to build-fuzz/fuzz-results.txt.
# FUZZ_SEED fixes libFuzzer's seed (make test uses 1, so that CI explores
# the same inputs each time and fails only when the code changed; the
# long form leaves it random to find new ones).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
tree=${FUZZ_BUILD:-$here/build-fuzz}
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-yaml wire http sdk_http}

# The first line of what made a run fail, for the result line (the end of
# `make test`, the only part of a CI log one gets to see): the harness's own
# message ("http fuzz: ...", "fuzz node: ..."), a sanitizer's report
# (ERROR:, UBSan's "runtime error:", SUMMARY:), libevent's fatal "[err]"
# (a failed assertion in libevent aborts) or libFuzzer's (deadly signal,
# out-of-memory, timeout, leak), whichever comes first, with the
# first frame of the project's code under it ("in FUNC at FILE:LINE").
cause() {
	awk -v here="$here/" '
	function frame(line,   m, f, p) {
		# "#7 0x55 in fuzz_http /src/build-fuzz/../tests/fuzz/x.c:31:4"
		if (line !~ /^ *#[0-9]+ 0x[0-9a-f]+ in /) return ""
		sub(/^ *#[0-9]+ 0x[0-9a-f]+ in /, "", line)
		f = line; sub(/ .*/, "", f)
		p = line; sub(/^[^ ]+ /, "", p); sub(/ .*/, "", p)
		if (index(p, "/../") > 0) sub(/.*\/\.\.\//, "", p)
		else if (index(p, here) == 1) p = substr(p, length(here) + 1)
		else return ""
		sub(/:[0-9]+$/, "", p)  # the column
		if (p ~ /^subprojects\//) return ""
		return f " at " p
	}
	{ sub(/\r$/, "") }
	found == "" && (/^(fuzz node|[A-Za-z0-9_]+ fuzz): / ||
	    /^==[0-9]+== ?ERROR: / || /: runtime error: / || /^SUMMARY: / ||
	    /^\[err\] /) {
		found = $0
		sub(/^==[0-9]+== ?/, "", found)
		next
	}
	found != "" && where == "" { where = frame($0) }
	END {
		if (found == "") exit
		if (length(found) > 240) found = substr(found, 1, 240) "..."
		if (where != "") found = found " [in " where "]"
		print found
	}' "$1"
}

results="$tree/fuzz-results.txt"
mkdir -p "$tree"
echo "fuzz: the fuzz tree did not build (CC=clang, -Dfuzz=true)" >"$results"
if [ ! -f "$tree/build.ninja" ]; then
	CC=clang meson setup "$tree" "$here" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized >"$tree/setup.log" 2>&1 || {
		cat "$tree/setup.log"
		exit 1
	}
fi
ninja -C "$tree" >/dev/null || { ninja -C "$tree"; exit 1; }

: >"$results"
fail=0
for t in $targets; do
	corpus="$tree/corpus/$t"
	art="$tree/artifacts/$t"
	mkdir -p "$corpus" "$art"
	log="$tree/fuzz-$t.log"
	# Leaks are findings too; the node's own threads exit at the end.
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
	"$tree/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
		-artifact_prefix="$art/" "$corpus" "$here/tests/fuzz/corpus/$t" \
		>"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	found=$(ls "$art" 2>/dev/null | head -1)
	if [ $rc -eq 0 ] && [ -z "$found" ]; then
		line="fuzz $t: ${runs:-?} runs in $secs s, ok"
	else
		fail=1
		line="fuzz $t: FAILED after ${runs:-?} runs (exit $rc)"
		why=$(cause "$log")
		line="$line: ${why:-no cause in the log (see $log)}"
		for f in "$art"/*; do
			[ -f "$f" ] || continue
			cp "$f" "$here/tests/fuzz/corpus/$t/"
			line="$line; input kept as tests/fuzz/corpus/$t/$(basename "$f")"
		done
		tail -n 40 "$log"
	fi
	echo "$line" | tee -a "$results"
done
exit $fail
