/* SPDX-License-Identifier: MIT */
/* A failure's reason into the caller's buffer; see errmsg.h. */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int
errmsg(int err, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return err;
}
