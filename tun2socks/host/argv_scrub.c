/* SPDX-License-Identifier: MIT */
/* Masks URL passwords in argv, in place. */
#include "argv_scrub.h"

#include <stdlib.h>
#include <string.h>

/* Masks the password of the first URL in s; returns 1 if there was one. */
static int
scrub_one(char *s)
{
	char *auth = strstr(s, "://"), *end, *colon;

	if (auth == NULL)
		return 0;
	auth += 3;
	/* The userinfo ends at the last '@' before the path (a password may hold '@'
	 * only percent-encoded, but be lenient). */
	end = auth + strcspn(auth, "/?#");
	while (end > auth && end[-1] != '@')
		end--;
	if (end == auth)
		return 0;
	end--; /* the '@' */
	colon = memchr(auth, ':', (size_t)(end - auth));
	if (colon == NULL || colon + 1 == end)
		return 0;
	memset(colon + 1, '*', (size_t)(end - colon - 1));
	return 1;
}

int
argv_scrub_passwords(int argc, char **argv)
{
	int n = 0;

	/* What follows "--" is the command's own: it gets its arguments as given. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		n += scrub_one(argv[i]);
	return n;
}

int
argv_scrub_text(char *text)
{
	int n = 0;

	for (char *s = text; (s = strstr(s, "://")) != NULL; s += 3)
		n += scrub_one(s);
	return n;
}

int
argv_scrub_env(const char *name)
{
	char *v = getenv(name);
	int had = v != NULL;

	/* The original block (what /proc/PID/environ shows) keeps the masked bytes; the
	 * variable itself goes, so no child inherits it. */
	if (v != NULL)
		memset(v, '*', strlen(v));
	unsetenv(name);
	return had;
}
