/* SPDX-License-Identifier: MIT */
/* Episodes of descriptor exhaustion: counting, and a log line at each edge. */
#include "fd_pressure.h"

#include <errno.h>
#include <string.h>

#include "log.h"

bool
fd_pressure_is_exhaustion(int err)
{
	return err == -EMFILE || err == -ENFILE;
}

void
fd_pressure_refused(struct fd_pressure *p, ev_tstamp now, const char *what, int err)
{
	p->refused++;
	if (!p->exhausted) {
		p->exhausted = true;
		p->episodes++;
		p->episode_refused = 1;
		p->since = now;
		p->logged = p->last_log == 0 || now - p->last_log >= FD_PRESSURE_LOG_INTERVAL;
		if (!p->logged)
			return;
		p->last_log = now;
		log_warn("out of file descriptors (%s): new connections are refused until some close; open ones "
			 "carry on (first refused: %s)",
			 strerror(-err), what);
		return;
	}
	p->episode_refused++;
	if (now - p->last_log >= FD_PRESSURE_REMIND_INTERVAL) {
		p->last_log = now;
		p->logged = true;
		log_warn("still out of file descriptors after %.0f s: %llu new connections refused so far",
			 now - p->since, (unsigned long long)p->episode_refused);
	}
}

void
fd_pressure_recovered(struct fd_pressure *p, ev_tstamp now)
{
	p->exhausted = false;
	if (!p->logged)
		return;
	p->last_log = now;
	log_warn("recovered from file descriptor exhaustion after %.1f s: %llu new connections were refused",
		 now - p->since, (unsigned long long)p->episode_refused);
}
