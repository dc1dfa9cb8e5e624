/*
 * clock.h - time in milliseconds and microseconds.
 *
 * Monotonic time for deadlines and measurements; wall time (Unix epoch)
 * only where a time must survive a restart (delayed events, idempotency
 * records).
 */
#ifndef LEDGE_BASE_CLOCK_H
#define LEDGE_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t
clock_mono_ms(void)
{
	return clock_mono_us() / 1000u;
}

static inline uint64_t
clock_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* An absolute CLOCK_REALTIME timespec `ms` from now, for condvar waits. */
static inline struct timespec
clock_deadline(uint32_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000u;
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
