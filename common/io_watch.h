/* SPDX-License-Identifier: MIT */
/* Points an ev_io at the events wanted now: every socket of the program uses this one. */
#ifndef T2S_COMMON_IO_WATCH_H
#define T2S_COMMON_IO_WATCH_H

#include <ev.h>

/* Watches w for events (EV_READ, EV_WRITE, both, or 0: stopped); nothing is done when
 * it already watches exactly those. */
static inline void
io_watch_set(struct ev_loop *loop, ev_io *w, int events)
{
	if (ev_is_active(w) && (w->events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(loop, w);
	if (events == 0)
		return;
	ev_io_modify(w, events);
	ev_io_start(loop, w);
}

#endif
