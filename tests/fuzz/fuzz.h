/*
 * fuzz.h - the shape of a fuzz target.
 *
 * Each target is one function `int fuzz_NAME(const uint8_t *, size_t)`
 * that must not crash, leak, hang or trip a sanitizer for any input, and
 * abort()s when an oracle of its own fails.  FUZZ_TARGET(NAME) defines it
 * and, in a libFuzzer build (-DFUZZ_LIBFUZZER, tools/scripts/fuzz.sh), the
 * LLVMFuzzerTestOneInput that calls it; replay_test.c links every target
 * into one Criterion program that feeds it each file of its corpus
 * (tests/fuzz/corpus/NAME/), so a crash once found stays a regression
 * test in the ordinary `make test`.
 */
#ifndef LEDGE_FUZZ_H
#define LEDGE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int fuzz_yaml(const uint8_t *data, size_t size);
int fuzz_wire(const uint8_t *data, size_t size);
int fuzz_http(const uint8_t *data, size_t size);
int fuzz_sdk_http(const uint8_t *data, size_t size);

#ifdef FUZZ_LIBFUZZER
#define FUZZ_TARGET(name)                                                      \
	int fuzz_##name(const uint8_t *data, size_t size);                     \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);          \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)           \
	{                                                                      \
		return fuzz_##name(data, size);                                \
	}                                                                      \
	int fuzz_##name(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name) int fuzz_##name(const uint8_t *data, size_t size)
#endif

#endif
