# The README's two commands:
#   make run    install what is missing, build, start the embedded demo
#   make test   install what is missing, build, run every test
# Everything else is plain Meson: meson setup build && ninja -C build.

BUILD ?= build
ASAN_BUILD ?= build-asan
HTTP ?= 127.0.0.1:8080

TSAN_BUILD ?= build-tsan

.PHONY: all deps build run test asan tsan long bench clean

all: build

deps:
	@tools/scripts/deps.sh

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD)
	@ninja -C $(BUILD)

run: build
	@echo
	@echo "  starting hello, counter and sessions; try, from another terminal:"
	@echo "    curl http://$(HTTP)/hello"
	@echo "    curl -X POST http://$(HTTP)/counter"
	@echo "    curl http://$(HTTP)/counter"
	@echo "    $(BUILD)/ledge workflow show counter"
	@echo "    curl -X POST --data 'apple 3' http://$(HTTP)/cart/ann   (a cart per user)"
	@echo "    curl http://$(HTTP)/cart/ann"
	@echo "  Ctrl-C stops; the counter keeps its value in ./.ledge"
	@echo
	@./$(BUILD)/ledge run --http $(HTTP) \
		$(BUILD)/functions/hello/workflow.yaml \
		$(BUILD)/functions/counter/workflow.yaml \
		$(BUILD)/functions/sessions/workflow.yaml

# Fuzzing first (tools/scripts/fuzz.sh: each libFuzzer target for FUZZ_SECONDS in
# build-fuzz, clang with ASan+UBSan), then the suite; the summary counts
# both.
FUZZ_SECONDS ?= 30
test: build
	@FUZZ_SEED=1 tools/scripts/fuzz.sh $(FUZZ_SECONDS) || true
	@FUZZ_RESULTS=build-fuzz/fuzz-results.txt tools/scripts/run-tests.sh $(BUILD)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@test -f $(ASAN_BUILD)/build.ninja || meson setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false
	@ninja -C $(ASAN_BUILD)
	@tools/scripts/run-tests.sh $(ASAN_BUILD)

# Every benchmark scenario against the ceiling and the peers, in one run
# (release build in build-bench; table, CSV and chart in tools/bench/out).
# The integration tests (and the torture runs) against a ledge built with
# ThreadSanitizer: every node, orchestrator and `ledge run` they start is
# checked for data races.  (Criterion itself cannot run under TSan, so the
# test programs stay in the ordinary tree; LEDGE_TEST_BIN points them at
# the other binary; the domain tests' CLI commands stay on the ordinary
# build.)  Every process runs several times slower (LEDGE_TEST_TIME_SCALE
# stretches the tests' own waits), so meson's per-test timeouts are
# stretched as much.
tsan: build
	@test -f $(TSAN_BUILD)/build.ninja || meson setup $(TSAN_BUILD) \
		-Db_sanitize=thread -Db_lundef=false -Dtests=false
	@ninja -C $(TSAN_BUILD) ledge
	@LEDGE_TEST_BIN=$(CURDIR)/$(TSAN_BUILD)/ledge LEDGE_TEST_TIME_SCALE=3 \
		TSAN_OPTIONS="suppressions=$(CURDIR)/tools/scripts/tsan.supp" \
		MESON_TEST_ARGS="--suite integration --timeout-multiplier 3" \
		tools/scripts/run-tests.sh $(BUILD)

# The long form of the guarantee tests (about an hour): tools/scripts/long.sh.
long: build
	@tools/scripts/long.sh

bench: deps
	@tools/bench/bench.py $(SCENARIOS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-bench build-fuzz
