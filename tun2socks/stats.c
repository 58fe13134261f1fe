/* SPDX-License-Identifier: MIT */
/* Formats the program's counters into log lines; SIGUSR1 asks for them. */
#include "stats.h"

#include <signal.h>

#include "dns_tcp.h"
#include "log.h"

typedef unsigned long long ull;

void
stats_log(const struct t2s *t)
{
	const struct t2s_stats *s = &t->stats;
	const struct fd_pressure *fp = &t->fd_pressure;
	const struct dns_tcp_stats *d = dns_tcp_get_stats(t->dns_tcp);

	log_info("stats: tun in %llu packets %llu bytes, out %llu packets %llu bytes, write drops %llu; dropped: "
		 "malformed %llu, not relayed %llu, fragments %llu",
		 (ull)s->tun_packets_in, (ull)s->tun_bytes_in, (ull)s->tun_packets_out, (ull)s->tun_bytes_out,
		 (ull)s->tun_write_drops, (ull)s->malformed, (ull)s->ignored, (ull)s->fragments_dropped);
	log_info("stats: tcp open %u, opened %llu, failed %llu, refused at --max-flows %llu, syn retransmits "
		 "absorbed %llu; udp open %u, opened %llu, association failures %llu, evictions %llu",
		 t->tcp_flow_count, (ull)s->tcp_flows_opened, (ull)s->tcp_flows_failed,
		 (ull)s->tcp_flows_refused_cap, (ull)s->syn_absorbed, t->udp_flow_count, (ull)s->udp_flows_opened,
		 (ull)s->udp_assoc_failed, (ull)s->udp_evictions);
	log_info("stats: udp datagrams out %llu in %llu, send errors %llu, reply drops %llu; fake-ip answers "
		 "%llu unmapped %llu; out of descriptors: %llu episodes, %llu flows refused%s",
		 (ull)s->udp_datagrams_out, (ull)s->udp_datagrams_in, (ull)s->udp_send_errors,
		 (ull)s->udp_reply_drops, (ull)s->dns_fake_answers, (ull)s->fake_ip_unmapped, (ull)fp->episodes,
		 (ull)fp->refused, fp->exhausted ? " (now)" : "");
	log_info("stats: dns over tcp queries %llu answered %llu truncated %llu failed %llu refused %llu",
		 (ull)d->queries, (ull)d->answered, (ull)d->truncated, (ull)d->failed, (ull)d->refused);
}

static void
stats_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	stats_log(w->data);
}

void
stats_watch(struct ev_loop *loop, ev_signal *w, const struct t2s *t)
{
	ev_signal_init(w, stats_signal_cb, SIGUSR1);
	w->data = (void *)t;
	ev_signal_start(loop, w);
	ev_unref(loop);
}

void
stats_unwatch(struct ev_loop *loop, ev_signal *w)
{
	if (!ev_is_active(w))
		return;
	ev_ref(loop);
	ev_signal_stop(loop, w);
}
