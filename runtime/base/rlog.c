#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/rlog.h"

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
rlog_init(struct rlog *l, FILE *fp, int level)
{
	l->fp = fp;
	l->level = level;
	l->tap = NULL;
	l->tap_arg = NULL;
	pthread_mutex_init(&l->mu, NULL);
}

void
rlog_fini(struct rlog *l)
{
	pthread_mutex_destroy(&l->mu);
}

int
rlog_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

void
rlog_vwrite(
    struct rlog *l, int level, const char *who, const char *fmt, va_list ap)
{
	char msg[4096];
	char stamp[40];
	struct timeval tv;
	struct tm tm;

	if (l == NULL || level > l->level) {
		return;
	}
	if (level < 0) {
		level = 0;
	}
	if (level > RLOG_DEBUG) {
		level = RLOG_DEBUG;
	}
	vsnprintf(msg, sizeof msg, fmt, ap);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&l->mu);
	if (who != NULL) {
		fprintf(l->fp, "%s.%03ldZ %-5s [%s] %s\n", stamp,
		    (long)tv.tv_usec / 1000, level_names[level], who, msg);
	} else {
		fprintf(l->fp, "%s.%03ldZ %-5s %s\n", stamp,
		    (long)tv.tv_usec / 1000, level_names[level], msg);
	}
	fflush(l->fp);
	pthread_mutex_unlock(&l->mu);
	if (l->tap != NULL) {
		l->tap(l->tap_arg, level, who, msg);
	}
}

void
rlog_write(struct rlog *l, int level, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rlog_vwrite(l, level, who, fmt, ap);
	va_end(ap);
}
