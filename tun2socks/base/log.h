/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging to stderr, one writev per line, errno preserved. The sink level is
 * the only global state of the program besides lwIP's own.
 */
#ifndef T2S_TUN2SOCKS_LOG_H
#define T2S_TUN2SOCKS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

extern enum log_level log_current_level;

/* "error", "warn", "info", "debug" -> level; -EINVAL otherwise. */
int log_level_parse(const char *name);
void log_set_level(enum log_level level);

static inline int
log_enabled(enum log_level level)
{
	return level <= log_current_level;
}

/*
 * Where lines go: fn(arg, level, text) instead of stderr when fn is not NULL (text has
 * no timestamp and no newline; valid only during the call). Called on the thread that
 * logs. NULL restores stderr. Set before the loop runs, not from another thread.
 */
typedef void (*log_sink_fn)(void *arg, enum log_level level, const char *text);
void log_set_sink(log_sink_fn fn, void *arg);

/*
 * Journal-friendly lines (systemd's stderr stream): each starts with its syslog
 * priority, "<3>" error, "<4>" warn, "<6>" info, "<7>" debug, and has no timestamp of
 * ours (the journal keeps its own).
 */
void log_set_journal(bool on);
int log_syslog_priority(enum log_level level);

/*
 * $JOURNAL_STREAM ("DEV:INODE", decimal) names the file stderr is (fstat: st_dev,
 * st_ino): true when it does. Pure.
 */
bool log_journal_stream_matches(const char *value, unsigned long long dev, unsigned long long ino);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* One kind of rate-limited log line (a value type, embedded by its user). */
struct log_rate {
	double last;         /* when a line was last let through; 0: never */
	unsigned suppressed; /* lines held back since then */
};

/*
 * True at most once per interval seconds (now: any monotonic clock in seconds). When
 * true, *skipped (if not NULL) is how many calls were held back since the previous
 * true, so the line let through can say so.
 */
bool log_rate_ok(struct log_rate *r, double now, double interval, unsigned *skipped);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
/* Debug calls sit on hot paths: the level check comes before argument evaluation. */
#define log_debug(...) \
	do { \
		if (log_enabled(LOG_LEVEL_DEBUG)) \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
