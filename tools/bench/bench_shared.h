/*
 * bench_shared.h - memory shared between a benchmark driver and the bench
 * functions it runs in the same process.
 *
 * Only a benchmark does this: the driver passes the address of a struct
 * bench_stats in the function's config (`stats: "0x..."`), and the
 * function records into it (sample times, counts) without going through
 * the runtime, so that what is measured is the runtime alone.
 */
#ifndef LEDGE_BENCH_SHARED_H
#define LEDGE_BENCH_SHARED_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

struct bench_stats {
	atomic_uint_fast64_t count; /* events seen */
	uint64_t cap;               /* room in samples */
	uint64_t *samples;          /* one value per event (ns) */
};

static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Record a sample; returns the event's index. */
static inline uint64_t
bench_record(struct bench_stats *s, uint64_t value)
{
	uint64_t i = atomic_fetch_add(&s->count, 1);
	if (i < s->cap) {
		s->samples[i] = value;
	}
	return i;
}

#endif
