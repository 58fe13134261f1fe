/* SPDX-License-Identifier: MIT */
/* The per-proxy pipelining state (socks5_pipeline.h). */
#include "socks5_pipeline.h"

bool
socks5_pipeline_begin(struct socks5_pipeline *p, uint8_t *method, bool *probe)
{
	*probe = false;
	switch (p->state) {
	case SOCKS5_PIPELINE_CANDIDATE:
		p->state = SOCKS5_PIPELINE_PROBING;
		*probe = true;
		*method = p->method;
		return true;
	case SOCKS5_PIPELINE_OK:
		*method = p->method;
		return true;
	default:
		return false;
	}
}

void
socks5_pipeline_stepwise_answered(struct socks5_pipeline *p, uint8_t method)
{
	if (p->state == SOCKS5_PIPELINE_UNKNOWN) {
		p->method = method;
		p->state = SOCKS5_PIPELINE_CANDIDATE;
	}
}

void
socks5_pipeline_answered(struct socks5_pipeline *p)
{
	p->pipelined++;
	if (p->state == SOCKS5_PIPELINE_PROBING || p->state == SOCKS5_PIPELINE_CANDIDATE)
		p->state = SOCKS5_PIPELINE_OK;
}

void
socks5_pipeline_failed(struct socks5_pipeline *p, bool mismatch)
{
	p->fallbacks++;
	p->state = mismatch ? SOCKS5_PIPELINE_UNKNOWN : SOCKS5_PIPELINE_REFUSED;
}

void
socks5_pipeline_abandoned(struct socks5_pipeline *p, bool probe)
{
	if (probe && p->state == SOCKS5_PIPELINE_PROBING)
		p->state = SOCKS5_PIPELINE_CANDIDATE;
}

void
socks5_pipeline_reset(struct socks5_pipeline *p)
{
	p->state = SOCKS5_PIPELINE_UNKNOWN;
}

const char *
socks5_pipeline_state_str(enum socks5_pipeline_state s)
{
	static const char *const names[] = {
		[SOCKS5_PIPELINE_UNKNOWN] = "unknown", [SOCKS5_PIPELINE_CANDIDATE] = "candidate",
		[SOCKS5_PIPELINE_PROBING] = "probing", [SOCKS5_PIPELINE_OK] = "ok",
		[SOCKS5_PIPELINE_REFUSED] = "refused",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
