/* Counters: see stats.h.  Relaxed atomics throughout: a status snapshot
 * needs each counter to be exact, not the set of them to be one instant. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "keyd/stats.h"

const unsigned long stats_lat_bounds_us[STATS_LAT_N] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	5000000,
};

static const char *const outcome_names[STATS_OUTCOME_N] = {
	"established", "cleartext", "failed", "closed_before_hello", "refused", "acl_denied",
};

static const char *const end_names[STATS_END_N] = {
	"close_notify", "app_close", "truncated", "reset", "timeout", "error", "shutdown",
	"revoked",
};

const char *stats_outcome_name(enum stats_outcome o)
{
	return (unsigned)o < STATS_OUTCOME_N ? outcome_names[o] : "unknown";
}

const char *stats_end_name(enum stats_end e)
{
	return (unsigned)e < STATS_END_N ? end_names[e] : "unknown";
}

#define ADD(a, v) ((void)atomic_fetch_add_explicit(&(a), (v), memory_order_relaxed))
#define GET(a) atomic_load_explicit(&(a), memory_order_relaxed)

int stats_new(unsigned n_workers, size_t n_ids, struct stats **ret)
{
	struct stats *s = calloc(1, sizeof(*s));
	size_t ids = n_ids + STATS_SPARE_SLOTS;

	if (!s)
		return -ENOMEM;
	s->n_workers = n_workers ? n_workers : 1;
	s->n_ids = ids;
	s->names = calloc(ids, sizeof(*s->names));
	s->start_ms = tk_now_ms();
	s->start_wall = (long long)time(NULL);
	/* calloc'd zeroes are valid atomics on every target we build for. */
	s->sign = calloc((size_t)s->n_workers * ids, sizeof(*s->sign));
	s->key_state = calloc(ids, sizeof(*s->key_state));
	s->key_err = calloc(ids, sizeof(*s->key_err));
	s->denied_id = calloc(ids, sizeof(*s->denied_id));
	if (!s->names || !s->sign || !s->key_state || !s->key_err || !s->denied_id) {
		stats_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	free(s->names);
	free(s->sign);
	free(s->key_state);
	free(s->key_err);
	free(s->denied_id);
	free(s);
}

void stats_assign(struct stats *s, struct keyd_conf *conf)
{
	for (size_t i = 0; i < conf->n_ids; i++) {
		struct keyd_identity *id = &conf->ids[i];
		size_t slot;

		id->stats_slot = (size_t)-1;
		if (!s)
			continue;
		for (slot = 0; slot < s->n_named; slot++)
			if (!strcmp(s->names[slot], id->name))
				break;
		if (slot == s->n_named) {
			if (s->n_named == s->n_ids || strlen(id->name) > TK_NAME_MAX)
				continue; /* not counted: see STATS_SPARE_SLOTS */
			memcpy(s->names[slot], id->name, strlen(id->name) + 1);
			s->n_named++;
		}
		id->stats_slot = slot;
	}
}

void stats_sign_record(struct stats *s, unsigned w, size_t id, long long us, int ok)
{
	struct stats_sign *g;
	size_t b = 0;

	if (!s || w >= s->n_workers || id >= s->n_ids)
		return;
	if (us < 0)
		us = 0;
	g = &s->sign[(size_t)w * s->n_ids + id];
	while (b < STATS_LAT_N && (unsigned long long)us > stats_lat_bounds_us[b])
		b++;
	ADD(g->n, 1);
	ADD(g->sum_us, (unsigned long long)us);
	ADD(g->bucket[b], 1);
	if (!ok)
		ADD(g->failed, 1);
}

void stats_key_event(struct stats *s, size_t id, int err)
{
	if (!s || id >= s->n_ids)
		return;
	atomic_store_explicit(&s->key_err[id], err, memory_order_relaxed);
	atomic_store_explicit(&s->key_state[id], err ? STATS_KEY_FAILED : STATS_KEY_READY,
			      memory_order_relaxed);
}

void stats_outcome(struct stats *s, enum stats_outcome o, int err, size_t id)
{
	if (!s || (unsigned)o >= STATS_OUTCOME_N)
		return;
	if (err < 0 || err >= STATS_ERRNO_MAX)
		err = STATS_ERRNO_MAX - 1;
	ADD(s->outcome[o][err], 1);
	if (o == STATS_ACL_DENIED && id < s->n_ids)
		ADD(s->denied_id[id], 1);
}

void stats_resumed(struct stats *s)
{
	if (s)
		ADD(s->resumed, 1);
}

void stats_session_end(struct stats *s, enum stats_end e, unsigned long long in,
		       unsigned long long out)
{
	if (!s || (unsigned)e >= STATS_END_N)
		return;
	ADD(s->ended[e], 1);
	ADD(s->bytes_in, in);
	ADD(s->bytes_out, out);
}

void stats_sign_merge(const struct stats *s, size_t id, struct stats_sign_total *ret)
{
	struct stats_sign_total t = { 0 };

	for (unsigned w = 0; s && id < s->n_ids && w < s->n_workers; w++) {
		struct stats_sign *g = &s->sign[(size_t)w * s->n_ids + id];

		t.n += GET(g->n);
		t.failed += GET(g->failed);
		t.sum_us += GET(g->sum_us);
		for (size_t b = 0; b <= STATS_LAT_N; b++)
			t.bucket[b] += GET(g->bucket[b]);
	}
	*ret = t;
}

long stats_quantile_us(const struct stats_sign_total *t, double q)
{
	unsigned long long total = 0, seen = 0, want;

	for (size_t b = 0; b <= STATS_LAT_N; b++)
		total += t->bucket[b];
	if (!total)
		return -1;
	/* The rank of the quantile, rounded up: p50 of 1 is the first. */
	want = (unsigned long long)(q * (double)total);
	if ((double)want < q * (double)total || want == 0)
		want++;
	for (size_t b = 0; b < STATS_LAT_N; b++) {
		seen += t->bucket[b];
		if (seen >= want)
			return (long)stats_lat_bounds_us[b];
	}
	return (long)stats_lat_bounds_us[STATS_LAT_N - 1];
}
