/* SPDX-License-Identifier: MIT */
/* The log sink: timestamped lines on stderr, written whole with one writev. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum log_level log_current_level = LOG_LEVEL_INFO;
static log_sink_fn sink;
static void *sink_arg;
static bool journal; /* stderr is the journal: <N> prefixes, no timestamp */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int
log_level_parse(const char *name)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcmp(name, "warning") == 0)
		return LOG_LEVEL_WARN;
	return -EINVAL;
}

void
log_set_level(enum log_level level)
{
	log_current_level = level;
}

void
log_set_sink(log_sink_fn fn, void *arg)
{
	sink = fn;
	sink_arg = arg;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char head[64], body[1024];
	struct timespec ts;
	struct tm tm;
	struct iovec iov[3];
	int saved = errno;
	int hn, bn;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (journal)
		hn = snprintf(head, sizeof(head), "<%d>", log_syslog_priority(level));
	else
		hn = snprintf(head, sizeof(head), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", tm.tm_year + 1900,
		      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
		      level_names[level]);
	bn = vsnprintf(body, sizeof(body), fmt, ap);
	if (bn < 0)
		bn = 0;
	if ((size_t)bn >= sizeof(body))
		bn = sizeof(body) - 1;
	if (sink != NULL) {
		sink(sink_arg, level, body);
		errno = saved;
		return;
	}
	iov[0] = (struct iovec){head, (size_t)hn};
	iov[1] = (struct iovec){body, (size_t)bn};
	iov[2] = (struct iovec){"\n", 1};
	(void)!writev(STDERR_FILENO, iov, 3);
	errno = saved;
}

int
log_syslog_priority(enum log_level level)
{
	static const int prio[] = {3, 4, 6, 7}; /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */

	return prio[level];
}

bool
log_journal_stream_matches(const char *value, unsigned long long dev, unsigned long long ino)
{
	unsigned long long d, i;
	int end = 0;

	if (value == NULL || sscanf(value, "%llu:%llu%n", &d, &i, &end) != 2 || value[end] != '\0')
		return false;
	return d == dev && i == ino;
}

void
log_set_journal(bool on)
{
	journal = on;
}

bool
log_rate_ok(struct log_rate *r, double now, double interval, unsigned *skipped)
{
	if (r->last != 0 && now - r->last < interval) {
		r->suppressed++;
		return false;
	}
	r->last = now;
	if (skipped != NULL)
		*skipped = r->suppressed;
	r->suppressed = 0;
	return true;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
