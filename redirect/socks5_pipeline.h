/* SPDX-License-Identifier: MIT */
/*
 * What is learned about one proxy: whether it takes the greeting, the credentials and
 * the request in one write (one round trip instead of two or three). Pure state, no
 * I/O; the owner of the proxy's struct socks5_server holds it (server->pipeline).
 *
 * UNKNOWN -> (a step-by-step handshake answered in full: the method is known)
 * CANDIDATE -> (the next handshake is pipelined, with a deadline) PROBING -> OK or
 * REFUSED. A pipelined handshake that the proxy closes, answers with garbage or (a
 * probe) leaves unanswered past the deadline is retried once step by step by its
 * session and sets REFUSED; a method other than the learned one sets UNKNOWN.
 * REFUSED lasts until socks5_pipeline_reset (the proxy changed).
 */
#ifndef T2S_REDIRECT_SOCKS5_PIPELINE_H
#define T2S_REDIRECT_SOCKS5_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

enum socks5_pipeline_state {
	SOCKS5_PIPELINE_UNKNOWN,   /* step by step until one handshake shows the method */
	SOCKS5_PIPELINE_CANDIDATE, /* the next handshake probes */
	SOCKS5_PIPELINE_PROBING,   /* one probe in flight; the others go step by step */
	SOCKS5_PIPELINE_OK,        /* a pipelined handshake was answered in full */
	SOCKS5_PIPELINE_REFUSED,   /* one was not: step by step */
};

struct socks5_pipeline {
	enum socks5_pipeline_state state;
	uint8_t method;       /* the method the proxy chose when it was learned */
	double probe_timeout; /* seconds a probe waits for the request's reply (0: 2 s) */
	uint64_t pipelined;   /* pipelined handshakes answered in full */
	uint64_t fallbacks;   /* pipelined handshakes retried step by step */
};

/* For a new handshake: true to pipeline (assuming *method); *probe: with a deadline. */
bool socks5_pipeline_begin(struct socks5_pipeline *p, uint8_t *method, bool *probe);
/* A step-by-step handshake got its request's reply, after the proxy chose method. */
void socks5_pipeline_stepwise_answered(struct socks5_pipeline *p, uint8_t method);
/* A pipelined handshake got its request's (or credentials') reply. */
void socks5_pipeline_answered(struct socks5_pipeline *p);
/* A pipelined handshake failed in a way step by step may not: retried step by step.
 * mismatch: the proxy chose another method than the learned one. */
void socks5_pipeline_failed(struct socks5_pipeline *p, bool mismatch);
/* A pipelined handshake ended for another reason (proxy unreachable, freed early). */
void socks5_pipeline_abandoned(struct socks5_pipeline *p, bool probe);
/* The proxy (address or credentials) changed: learn again; counters stay. */
void socks5_pipeline_reset(struct socks5_pipeline *p);
const char *socks5_pipeline_state_str(enum socks5_pipeline_state s);

#endif
