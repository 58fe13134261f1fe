/* SPDX-License-Identifier: MIT */
/*
 * The one way a function that fails fills its caller's message buffer: format the
 * reason, return the error, as in `return errmsg(-EINVAL, msg, msglen, "...", ...)`.
 * Pure, no I/O.
 */
#ifndef T2S_BASE_ERRMSG_H
#define T2S_BASE_ERRMSG_H

#include <stddef.h>

/* Writes fmt into msg (msglen bytes, cut to fit, NUL-terminated when msglen > 0) and
 * returns err (a negative errno). */
int errmsg(int err, char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
