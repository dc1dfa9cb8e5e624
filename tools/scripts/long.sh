#!/bin/sh
# The long form of the guarantee tests (issue 5), by hand: crash torture
# with 25 kills of nodes and the orchestrator, 20 of the orchestrator
# alone and 20 of a replicated counter's primary, the network faults twice, and every fuzz target for SECONDS
# (default 600).  About an hour on two cores.  Ends with "N passed, N
# failed".
#
#   tools/scripts/long.sh [SECONDS]
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
build="$here/build"
secs=${1:-600}
passed=0
failed=0

export LEDGE_BIN="$build/ledge" LEDGE_BUILD="$build" LEDGE_SRC="$here" \
	LEDGE_FIXTURES="$build/tests/fixtures"

count() { # status, what
	if [ "$1" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAILED: $2"
	fi
}

ninja -C "$build" >/dev/null || exit 1
"$build/tests/ledge-torture" --kills 25 --target all
count $? "torture, 25 kills"
"$build/tests/ledge-torture" --kills 20 --target orchestrator
count $? "torture, 20 orchestrator kills"
"$build/tests/ledge-torture" --kills 20 --target replicas
count $? "torture, 20 kills of a replicated primary"
for i in 1 2; do
	"$build/tests/netfault_test" --jobs=1
	count $? "network faults, run $i"
done
"$here/tools/scripts/fuzz.sh" "$secs"
count $? "fuzzing, $secs s per target"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
