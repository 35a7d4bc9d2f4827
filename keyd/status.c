/* STATUS documents (see status.h and doc/status.md).  One snapshot of the
 * counters is read per section; the three formats show the same values. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "common/wire.h"
#include "keyd/admission.h"
#include "keyd/gen.h"
#include "keyd/stats.h"
#include "keyd/status.h"

#define GET(a) atomic_load_explicit(&(a), memory_order_relaxed)

/* A bounded, growing output buffer: once max would be passed, `full` is
 * set and nothing more is appended. */
struct sb {
	char *p;
	size_t len, cap, max;
	int full;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->full = 1;
		return;
	}
	if (!b->p || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *q;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		if (b->len + (size_t)n + 1 > b->max || !(q = realloc(b->p, cap))) {
			b->full = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

char *status_escape(const char *s, int json, char *out, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 7 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\' || ch == '"') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (json && (ch < 0x20 || ch == 0x7f)) {
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			out[o++] = '?'; /* Prometheus has no escape for it */
		} else {
			out[o++] = (char)ch;
		}
	}
	out[len ? o : 0] = '\0';
	return out;
}

/* A label or string value, escaped into one of a few rotating buffers so
 * that several fit in one sb_printf(). */
static const char *esc(const char *s, int json)
{
	static _Thread_local char bufs[4][8192 * 2];
	static _Thread_local unsigned i;

	return status_escape(s ? s : "", json, bufs[i++ % 4], sizeof(bufs[0]));
}

static const char *cause_name(int err)
{
	static _Thread_local char buf[16];
	const char *n;

	if (err == 0)
		return "ok";
	n = strerrorname_np(err);
	if (n)
		return n;
	(void)snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

/* Everything one identity shows, read once. */
struct id_view {
	const struct keyd_identity *id;
	struct stats_sign_total sign;
	long p50_us, p99_us;
	long long expiry; /* -1: unknown */
	const char *token, *logged_in; /* "yes" / "no" / "unknown" */
	int last_err;
	unsigned long long denied;
};

static long long cert_expiry(const struct keyd *k, size_t i)
{
	gnutls_x509_crt_t crt;
	long long t = -1;

	const struct keyd_gen *g = k->gen; /* accept thread: the one in force */

	if (!g || !g->chains[i] || !g->chain_lens[i] || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(crt, &g->chains[i][0].cert, GNUTLS_X509_FMT_DER) == 0)
		t = (long long)gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	return t;
}

static void id_view(const struct keyd *k, size_t i, struct id_view *v)
{
	const struct stats *s = k->stats;
	size_t slot = k->conf->ids[i].stats_slot;
	int st = s && slot < s->n_ids ? GET(s->key_state[slot]) : STATS_KEY_UNKNOWN;

	memset(v, 0, sizeof(*v));
	v->id = &k->conf->ids[i];
	stats_sign_merge(s, slot, &v->sign);
	v->p50_us = stats_quantile_us(&v->sign, 0.5);
	v->p99_us = stats_quantile_us(&v->sign, 0.99);
	v->expiry = cert_expiry(k, i);
	v->last_err = s && slot < s->n_ids ? GET(s->key_err[slot]) : 0;
	v->denied = s && slot < s->n_ids ? GET(s->denied_id[slot]) : 0;
	v->token = v->logged_in = "unknown";
	if (st == STATS_KEY_READY) {
		v->token = v->logged_in = "yes";
	} else if (st == STATS_KEY_FAILED && v->last_err == ENODEV) {
		v->token = "no";
		v->logged_in = "no";
	} else if (st == STATS_KEY_FAILED && (v->last_err == EACCES || v->last_err == EPERM ||
					      v->last_err == EKEYREVOKED)) {
		v->token = "yes";
		v->logged_in = "no";
	} else if (st == STATS_KEY_FAILED) {
		v->logged_in = "no";
	}
}

/* The daemon-wide numbers. */
struct global_view {
	unsigned long long uptime_s, sessions, handshakes, queued, waiting, denied, pairs, parked, reused;
	unsigned long long fd_used, fd_pauses;
	long long start_wall, fd_max; /* fd_max -1: no limit */
};

static void global_view(const struct keyd *k, struct global_view *g)
{
	const struct stats *s = k->stats;

	memset(g, 0, sizeof(*g));
	g->sessions = atomic_load(&k->sessions);
	g->handshakes = atomic_load(&k->handshakes);
	g->fd_used = admission_fds_used(k);
	g->fd_max = atomic_load(&k->fd_max) >= (unsigned long long)LLONG_MAX
			    ? -1
			    : (long long)atomic_load(&k->fd_max);
	if (!s)
		return;
	g->fd_pauses = GET(s->fd_pauses);
	g->uptime_s = (tk_now_ms() - s->start_ms) / 1000;
	g->start_wall = s->start_wall;
	g->queued = GET(s->queued);
	g->waiting = GET(s->waiting);
	g->pairs = GET(s->pairs_ready);
	g->parked = atomic_load(&k->n_parked);
	g->reused = GET(s->ctl_reused);
	for (int e = 0; e < STATS_ERRNO_MAX; e++)
		g->denied += GET(s->outcome[STATS_ACL_DENIED][e]);
}

static void fmt_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		(void)snprintf(buf, len, "-");
}

static void fmt_us(long us, char *buf, size_t len)
{
	if (us < 0)
		(void)snprintf(buf, len, "-");
	else
		(void)snprintf(buf, len, "<= %ld.%03ld ms", us / 1000, us % 1000);
}

static void text_counters(const struct keyd *k, struct sb *b)
{
	const struct stats *s = k->stats;

	sb_printf(b, "handshakes:\n");
	for (int o = 0; s && o < STATS_OUTCOME_N; o++) {
		unsigned long long total = 0;

		for (int e = 0; e < STATS_ERRNO_MAX; e++)
			total += GET(s->outcome[o][e]);
		sb_printf(b, "  %-20s %llu", stats_outcome_name((enum stats_outcome)o), total);
		for (int e = 0, first = 1; total && e < STATS_ERRNO_MAX; e++) {
			unsigned long long n = GET(s->outcome[o][e]);

			if (n && (e || o > STATS_CLEARTEXT)) {
				sb_printf(b, "%s%s %llu", first ? " (" : ", ", cause_name(e), n);
				first = 0;
			}
			if (e == STATS_ERRNO_MAX - 1 && !first)
				sb_printf(b, ")");
		}
		sb_printf(b, "\n");
	}
	sb_printf(b, "sessions ended:\n");
	for (int e = 0; s && e < STATS_END_N; e++)
		sb_printf(b, "  %-20s %llu\n", stats_end_name((enum stats_end)e), GET(s->ended[e]));
	if (s)
		sb_printf(b, "bytes: %llu received from peers, %llu sent to peers (ended sessions)\n"
			     "resumed handshakes: %llu\n",
			  GET(s->bytes_in), GET(s->bytes_out), GET(s->resumed));
}

static void render_text(const struct keyd *k, size_t n_ids, struct sb *b)
{
	struct global_view g;
	char t1[64], t2[64];

	global_view(k, &g);
	fmt_time(g.start_wall, t1, sizeof(t1));
	sb_printf(b, "tlskeyd %s\nconfiguration: %s\nacl: %s\n", PACKAGE_VERSION,
		  k->conf->path ? k->conf->path : "-", k->conf->acl_path ? k->conf->acl_path : "-");
	sb_printf(b, "uptime: %llu s (since %s)\n", g.uptime_s, t1);
	sb_printf(b, "sessions: %llu\nhandshakes in flight: %llu\nqueued requests: %llu\n"
		     "waiting clients: %llu\nprotected pairs ready: %llu\n"
		     "control connections kept: %llu\nstarts on kept control connections: %llu\n"
		     "acl denials: %llu\n",
		  g.sessions, g.handshakes, g.queued, g.waiting, g.pairs, g.parked, g.reused, g.denied);
	if (g.fd_max < 0)
		sb_printf(b, "descriptors in use: about %llu (no limit)\n", g.fd_used);
	else
		sb_printf(b, "descriptors in use: about %llu of %lld\n", g.fd_used, g.fd_max);
	sb_printf(b, "pauses at the descriptor limit: %llu\n", g.fd_pauses);
	text_counters(k, b);
	for (size_t i = 0; i < n_ids; i++) {
		struct id_view v;

		id_view(k, i, &v);
		fmt_time(v.expiry, t1, sizeof(t1));
		sb_printf(b, "identity %s\n  key: %s\n  token present: %s\n  logged in: %s\n",
			  v.id->name, v.id->key_uri, v.token, v.logged_in);
		if (v.last_err)
			sb_printf(b, "  last key error: %s\n", cause_name(v.last_err));
		fmt_us(v.p50_us, t2, sizeof(t2));
		sb_printf(b, "  signatures: %llu (%llu failed)\n  sign latency p50: %s\n", v.sign.n,
			  v.sign.failed, t2);
		fmt_us(v.p99_us, t2, sizeof(t2));
		sb_printf(b, "  sign latency p99: %s\n  certificate expires: %s\n  acl denials: %llu\n",
			  t2, t1, v.denied);
	}
	if (n_ids < k->conf->n_ids)
		sb_printf(b, "(%zu more identities not shown: the status is limited to %u bytes)\n",
			  k->conf->n_ids - n_ids, STATUS_MAX);
}

static void json_num(struct sb *b, const char *key, long long v, const char *sep)
{
	if (v < 0)
		sb_printf(b, "\"%s\":null%s", key, sep);
	else
		sb_printf(b, "\"%s\":%lld%s", key, v, sep);
}

static void json_counters(const struct keyd *k, struct sb *b)
{
	const struct stats *s = k->stats;

	sb_printf(b, "\"handshakes\":{");
	for (int o = 0; s && o < STATS_OUTCOME_N; o++) {
		unsigned long long total = 0;
		int first = 1;

		for (int e = 0; e < STATS_ERRNO_MAX; e++)
			total += GET(s->outcome[o][e]);
		sb_printf(b, "%s\"%s\":{\"total\":%llu,\"causes\":{", o ? "," : "",
			  stats_outcome_name((enum stats_outcome)o), total);
		for (int e = 0; e < STATS_ERRNO_MAX; e++) {
			unsigned long long n = GET(s->outcome[o][e]);

			if (n) {
				sb_printf(b, "%s\"%s\":%llu", first ? "" : ",", cause_name(e), n);
				first = 0;
			}
		}
		sb_printf(b, "}}");
	}
	sb_printf(b, "},\"sessions_ended\":{");
	for (int e = 0; s && e < STATS_END_N; e++)
		sb_printf(b, "%s\"%s\":%llu", e ? "," : "", stats_end_name((enum stats_end)e),
			  GET(s->ended[e]));
	sb_printf(b, "},");
	if (s)
		sb_printf(b, "\"bytes_received\":%llu,\"bytes_sent\":%llu,\"handshakes_resumed\":%llu,",
			  GET(s->bytes_in), GET(s->bytes_out), GET(s->resumed));
}

static const char *json_tri(const char *yn)
{
	return !strcmp(yn, "yes") ? "true" : !strcmp(yn, "no") ? "false" : "null";
}

static void render_json(const struct keyd *k, size_t n_ids, struct sb *b)
{
	struct global_view g;

	global_view(k, &g);
	sb_printf(b, "{\"version\":\"%s\",\"config\":\"%s\",\"acl\":", esc(PACKAGE_VERSION, 1),
		  esc(k->conf->path, 1));
	if (k->conf->acl_path)
		sb_printf(b, "\"%s\",", esc(k->conf->acl_path, 1));
	else
		sb_printf(b, "null,");
	sb_printf(b, "\"uptime_seconds\":%llu,\"start_time\":%lld,\"sessions\":%llu,"
		     "\"handshakes_in_flight\":%llu,\"queued_requests\":%llu,\"waiting_clients\":%llu,"
		     "\"protected_pairs_ready\":%llu,\"control_connections_kept\":%llu,"
		     "\"kept_control_connection_starts\":%llu,\"acl_denials\":%llu,"
		     "\"descriptors_in_use\":%llu,",
		  g.uptime_s, g.start_wall, g.sessions, g.handshakes, g.queued, g.waiting, g.pairs,
		  g.parked, g.reused, g.denied, g.fd_used);
	json_num(b, "descriptor_limit", g.fd_max, ",");
	sb_printf(b, "\"descriptor_limit_pauses\":%llu,", g.fd_pauses);
	json_counters(k, b);
	sb_printf(b, "\"identities\":[");
	for (size_t i = 0; i < n_ids; i++) {
		struct id_view v;

		id_view(k, i, &v);
		sb_printf(b, "%s{\"name\":\"%s\",\"key_uri\":\"%s\",\"token_present\":%s,"
			     "\"logged_in\":%s,\"last_key_error\":",
			  i ? "," : "", esc(v.id->name, 1), esc(v.id->key_uri, 1), json_tri(v.token),
			  json_tri(v.logged_in));
		if (v.last_err)
			sb_printf(b, "\"%s\",", cause_name(v.last_err));
		else
			sb_printf(b, "null,");
		sb_printf(b, "\"signatures\":%llu,\"signature_failures\":%llu,", v.sign.n,
			  v.sign.failed);
		json_num(b, "sign_latency_p50_us", v.p50_us, ",");
		json_num(b, "sign_latency_p99_us", v.p99_us, ",");
		json_num(b, "certificate_expiry", v.expiry, ",");
		sb_printf(b, "\"acl_denials\":%llu}", v.denied);
	}
	sb_printf(b, "],\"identities_omitted\":%zu}\n", k->conf->n_ids - n_ids);
}

static void prom_head(struct sb *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP tlskeyd_%s %s\n# TYPE tlskeyd_%s %s\n", name, help, name, type);
}

static void prom_globals(const struct keyd *k, struct sb *b)
{
	const struct stats *s = k->stats;
	struct global_view g;

	global_view(k, &g);
	prom_head(b, "info", "gauge", "Version, configuration and ACL of the running daemon.");
	sb_printf(b, "tlskeyd_info{version=\"%s\",config=\"%s\",acl=\"%s\"} 1\n",
		  esc(PACKAGE_VERSION, 0), esc(k->conf->path, 0), esc(k->conf->acl_path, 0));
	{
		const struct {
			const char *name, *help;
			unsigned long long v;
		} gauges[] = {
			{ "start_time_seconds", "When the daemon started, Unix time.",
			  (unsigned long long)g.start_wall },
			{ "uptime_seconds", "Seconds since the daemon started.", g.uptime_s },
			{ "sessions", "Handshakes and relayed sessions now.", g.sessions },
			{ "handshakes_in_flight", "Handshakes running now.", g.handshakes },
			{ "queued_requests", "Admitted requests waiting for a handshake slot.", g.queued },
			{ "waiting_clients", "Connected clients whose request is not read yet.", g.waiting },
			{ "protected_pairs_ready", "Protected descriptor pairs made ahead by the workers.",
			  g.pairs },
			{ "control_connections_kept", "Control connections kept open between starts.",
			  g.parked },
			{ "descriptors_in_use",
			  "Descriptors the daemon counts as open (an estimate, recalibrated near the limit).",
			  g.fd_used },
		};

		for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
			prom_head(b, gauges[i].name, "gauge", gauges[i].help);
			sb_printf(b, "tlskeyd_%s %llu\n", gauges[i].name, gauges[i].v);
		}
	}
	prom_head(b, "descriptor_limit", "gauge", "The daemon's open file limit (RLIMIT_NOFILE).");
	if (g.fd_max < 0)
		sb_printf(b, "tlskeyd_descriptor_limit +Inf\n");
	else
		sb_printf(b, "tlskeyd_descriptor_limit %lld\n", g.fd_max);
	prom_head(b, "descriptor_limit_pauses_total", "counter",
		  "Times admission paused because the descriptor limit was near.");
	sb_printf(b, "tlskeyd_descriptor_limit_pauses_total %llu\n", g.fd_pauses);
	prom_head(b, "handshakes_total", "counter", "Requests by outcome and cause (errno name).");
	for (int o = 0; s && o < STATS_OUTCOME_N; o++)
		for (int e = 0; e < STATS_ERRNO_MAX; e++) {
			unsigned long long n = GET(s->outcome[o][e]);

			/* The success series always exist, so that rate() works
			 * from the first scrape. */
			if (n || (e == 0 && o <= STATS_CLEARTEXT))
				sb_printf(b, "tlskeyd_handshakes_total{outcome=\"%s\",cause=\"%s\"} %llu\n",
					  stats_outcome_name((enum stats_outcome)o), cause_name(e), n);
		}
	prom_head(b, "acl_denials_total", "counter", "Requests the ACL denied.");
	sb_printf(b, "tlskeyd_acl_denials_total %llu\n", g.denied);
	prom_head(b, "sessions_ended_total", "counter", "Established sessions by how they ended.");
	for (int e = 0; s && e < STATS_END_N; e++)
		sb_printf(b, "tlskeyd_sessions_ended_total{end=\"%s\"} %llu\n",
			  stats_end_name((enum stats_end)e), GET(s->ended[e]));
	prom_head(b, "session_bytes_received_total", "counter", "Bytes from peers (ended sessions).");
	sb_printf(b, "tlskeyd_session_bytes_received_total %llu\n", s ? GET(s->bytes_in) : 0);
	prom_head(b, "session_bytes_sent_total", "counter", "Bytes to peers (ended sessions).");
	sb_printf(b, "tlskeyd_session_bytes_sent_total %llu\n", s ? GET(s->bytes_out) : 0);
	prom_head(b, "handshakes_resumed_total", "counter", "Established handshakes that resumed a session.");
	sb_printf(b, "tlskeyd_handshakes_resumed_total %llu\n", s ? GET(s->resumed) : 0);
	prom_head(b, "kept_control_connection_starts_total", "counter",
		  "Starts that came on a control connection kept from an earlier start.");
	sb_printf(b, "tlskeyd_kept_control_connection_starts_total %llu\n", s ? GET(s->ctl_reused) : 0);
}

/* Metric families per identity: all samples of one family together. */
enum prom_family { PF_INFO, PF_TOKEN, PF_LOGIN, PF_SIGNS, PF_FAILS, PF_LAT, PF_EXPIRY, PF_DENIED, PF_N };

static void prom_identity(struct sb *b, enum prom_family f, const struct id_view *v)
{
	const char *id = esc(v->id->name, 0);

	switch (f) {
	case PF_INFO:
		sb_printf(b, "tlskeyd_identity_info{identity=\"%s\",key_uri=\"%s\"} 1\n", id,
			  esc(v->id->key_uri, 0));
		break;
	case PF_TOKEN:
	case PF_LOGIN: {
		const char *yn = f == PF_TOKEN ? v->token : v->logged_in;

		if (strcmp(yn, "unknown"))
			sb_printf(b, "tlskeyd_%s{identity=\"%s\"} %d\n",
				  f == PF_TOKEN ? "token_present" : "token_logged_in", id, !strcmp(yn, "yes"));
		break;
	}
	case PF_SIGNS:
		sb_printf(b, "tlskeyd_signatures_total{identity=\"%s\"} %llu\n", id, v->sign.n);
		break;
	case PF_FAILS:
		sb_printf(b, "tlskeyd_signature_failures_total{identity=\"%s\"} %llu\n", id, v->sign.failed);
		break;
	case PF_LAT: {
		unsigned long long cum = 0;

		for (size_t i = 0; i < STATS_LAT_N; i++) {
			cum += v->sign.bucket[i];
			sb_printf(b, "tlskeyd_sign_duration_seconds_bucket{identity=\"%s\",le=\"%g\"} %llu\n",
				  id, (double)stats_lat_bounds_us[i] / 1e6, cum);
		}
		sb_printf(b, "tlskeyd_sign_duration_seconds_bucket{identity=\"%s\",le=\"+Inf\"} %llu\n",
			  id, v->sign.n);
		sb_printf(b, "tlskeyd_sign_duration_seconds_sum{identity=\"%s\"} %.6f\n", id,
			  (double)v->sign.sum_us / 1e6);
		sb_printf(b, "tlskeyd_sign_duration_seconds_count{identity=\"%s\"} %llu\n", id, v->sign.n);
		break;
	}
	case PF_EXPIRY:
		if (v->expiry >= 0)
			sb_printf(b, "tlskeyd_certificate_expiry_timestamp_seconds{identity=\"%s\"} %lld\n",
				  id, v->expiry);
		break;
	case PF_DENIED:
		sb_printf(b, "tlskeyd_identity_acl_denials_total{identity=\"%s\"} %llu\n", id, v->denied);
		break;
	case PF_N:
		break;
	}
}

static void render_prom(const struct keyd *k, size_t n_ids, struct sb *b)
{
	static const struct { const char *name, *type, *help; } fam[PF_N] = {
		{ "identity_info", "gauge", "A configured identity and its key URI." },
		{ "token_present", "gauge", "1 if the identity's token was there when last used." },
		{ "token_logged_in", "gauge", "1 if the daemon holds a logged-in key object for it." },
		{ "signatures_total", "counter", "Signatures made with the identity's key." },
		{ "signature_failures_total", "counter", "Signatures the token failed." },
		{ "sign_duration_seconds", "histogram", "Time the token took per signature." },
		{ "certificate_expiry_timestamp_seconds", "gauge", "notAfter of the certificate, Unix time." },
		{ "identity_acl_denials_total", "counter", "ACL denials of requests for the identity." },
	};
	struct id_view *v = n_ids ? calloc(n_ids, sizeof(*v)) : NULL;

	prom_globals(k, b);
	if (n_ids && !v) {
		b->full = 1;
		return;
	}
	for (size_t i = 0; i < n_ids; i++)
		id_view(k, i, &v[i]);
	for (int f = 0; f < PF_N; f++) {
		prom_head(b, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < n_ids; i++)
			prom_identity(b, (enum prom_family)f, &v[i]);
	}
	prom_head(b, "identities_omitted", "gauge", "Identities left out to bound the answer.");
	sb_printf(b, "tlskeyd_identities_omitted %zu\n", k->conf->n_ids - n_ids);
	free(v);
}

int status_render(const struct keyd *k, unsigned format, char **ret, size_t *ret_len)
{
	size_t n_ids = k->conf->n_ids;

	if (format < TK_FORMAT_TEXT || format > TK_FORMAT_PROMETHEUS)
		return -EINVAL;
	/* Too big: fewer identities, until it fits (the counters always do). */
	for (;;) {
		struct sb b = { .max = STATUS_MAX };

		if (format == TK_FORMAT_TEXT)
			render_text(k, n_ids, &b);
		else if (format == TK_FORMAT_JSON)
			render_json(k, n_ids, &b);
		else
			render_prom(k, n_ids, &b);
		if (!b.full && b.p) {
			*ret = b.p;
			*ret_len = b.len;
			return 0;
		}
		free(b.p);
		if (n_ids == 0)
			return -ENOMEM;
		n_ids /= 2;
	}
}

int status_send(int ctlfd, const char *doc, size_t len)
{
	return status_send_memfd(ctlfd, TK_MSG_RESULT, "tlskeyd-status", doc, len);
}

int status_send_memfd(int ctlfd, uint8_t type, const char *name, const void *data, size_t len)
{
	struct tk_msg m = { .type = type, .present = 1u << TK_TAG_ERRNO };
	const char *doc = data;
	size_t off = 0;
	int fd, r;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, doc + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)n;
	}
	/* Sealed: what the reader maps is what we wrote, and stays so. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		r = -errno;
		goto out;
	}
	r = tk_msg_send(ctlfd, &m, fd);
out:
	(void)tk_close(fd);
	return r;
}
