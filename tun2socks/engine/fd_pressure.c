/* SPDX-License-Identifier: MIT */
/* Episodes of descriptor exhaustion or of a limit reached: counting, a log line at each edge. */
#include "fd_pressure.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const struct fd_pressure_kind fd_kind = {
	.short_of = "out of file descriptors",
	.recovered = "recovered from file descriptor exhaustion",
};

static const struct fd_pressure_kind *
kind(const struct fd_pressure *p)
{
	return p->kind != NULL ? p->kind : &fd_kind;
}

bool
fd_pressure_is_exhaustion(int err)
{
	return err == -EMFILE || err == -ENFILE;
}

enum episode_log {
	EPISODE_QUIET,
	EPISODE_START,  /* this refusal began an episode that is to be logged */
	EPISODE_REMIND, /* time to say again that it lasts */
};

static enum episode_log
count_refusal(struct fd_pressure *p, ev_tstamp now)
{
	p->refused++;
	if (!p->exhausted) {
		p->exhausted = true;
		p->episodes++;
		p->episode_refused = 1;
		p->since = now;
		p->logged = p->last_log == 0 || now - p->last_log >= FD_PRESSURE_LOG_INTERVAL;
		if (!p->logged)
			return EPISODE_QUIET;
		p->last_log = now;
		return EPISODE_START;
	}
	p->episode_refused++;
	if (now - p->last_log >= FD_PRESSURE_REMIND_INTERVAL) {
		p->last_log = now;
		p->logged = true;
		return EPISODE_REMIND;
	}
	return EPISODE_QUIET;
}

/* The one wording of every kind: "<short_of> (<why>): ...", "still <short_of> ...",
 * "<recovered> after ...". */
static void
log_refusal(struct fd_pressure *p, ev_tstamp now, const char *why, const char *what)
{
	switch (count_refusal(p, now)) {
	case EPISODE_START:
		log_warn("%s (%s): new connections are refused until some close; open ones carry on (first "
			 "refused: %s)",
			 kind(p)->short_of, why, what);
		break;
	case EPISODE_REMIND:
		log_warn("still %s after %.0f s: %llu new connections refused so far", kind(p)->short_of,
			 now - p->since, (unsigned long long)p->episode_refused);
		break;
	case EPISODE_QUIET:
		break;
	}
}

void
fd_pressure_refused(struct fd_pressure *p, ev_tstamp now, const char *what, int err)
{
	log_refusal(p, now, strerror(-err), what);
}

void
fd_pressure_capped(struct fd_pressure *p, ev_tstamp now, const char *what, unsigned open)
{
	char why[64];

	snprintf(why, sizeof(why), "%u %s connections open", open, what);
	log_refusal(p, now, why, what);
}

void
fd_pressure_recovered(struct fd_pressure *p, ev_tstamp now)
{
	p->exhausted = false;
	if (!p->logged)
		return;
	p->last_log = now;
	log_warn("%s after %.1f s: %llu new connections were refused", kind(p)->recovered, now - p->since,
		 (unsigned long long)p->episode_refused);
}
