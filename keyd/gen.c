/* Configuration generations: a reload builds a whole new one off to the
 * side and publishes it only if every part is valid (all or nothing);
 * handshakes keep the generation they were admitted with until they end,
 * so that a reload never changes anything under a handshake in flight. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/gen.h"
#include "keyd/keyd.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"
#include "keyd/quota.h"
#include "keyd/trust.h"
#include "keyd/scache.h"
#include "keyd/tickets.h"
#include "keyd/vcache.h"
#include "pkcs11/p11.h"

void gen_error(struct gen_errors *e, const char *fmt, ...)
{
	size_t used = strlen(e->text), room = sizeof(e->text) - used;
	va_list ap;
	int n;

	e->n++;
	if (room < 5)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->text + used, room - 4, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room - 4) {
		/* Truncated: say so rather than cut a message silently. */
		(void)snprintf(e->text + sizeof(e->text) - 5, 5, "...\n");
		return;
	}
	(void)snprintf(e->text + used + (size_t)n, room - (size_t)n, "\n");
}

struct keyd_gen *gen_ref(struct keyd_gen *g)
{
	if (g)
		(void)atomic_fetch_add(&g->refs, 1);
	return g;
}

struct keyd_gen *keyd_gen_current(struct keyd *k)
{
	struct keyd_gen *g;

	pthread_mutex_lock(&k->gen_lock);
	g = gen_ref(k->gen);
	pthread_mutex_unlock(&k->gen_lock);
	return g;
}

static void gen_free(struct keyd_gen *g)
{
	if (g->chains) {
		for (size_t i = 0; i < g->conf->n_ids; i++) {
			for (unsigned j = 0; j < g->chain_lens[i]; j++)
				gnutls_pcert_deinit(&g->chains[i][j]);
			free(g->chains[i]);
		}
	}
	if (g->ocsp)
		for (size_t i = 0; i < g->conf->n_ids; i++)
			ocsp_staple_free(&g->ocsp[i]);
	free(g->ocsp);
	free(g->chains);
	free(g->chain_lens);
	trust_domains_free(g); /* g->cred and g->prio with the global domain */
	vcache_free(g->vcache);
	quota_free(g->quota);
	tickets_free(g->tickets);
	scache_free(g->scache);
	keyd_conf_free(g->conf);
	free(g);
}

void gen_unref(struct keyd_gen *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		gen_free(g);
}

int gen_identity_build(struct keyd_gen *g, size_t i, struct gen_errors *errs)
{
	const struct keyd_conf *c = g->conf;
	const struct keyd_identity *id = &c->ids[i];
	char err[512] = "";
	int r;

	if (id->pin_file) {
		/* Registering names the file for the token; the PIN itself is
		 * read at login time only.  A token that already has another
		 * PIN file keeps it (gen_restart_needed() cannot see that:
		 * the registry answers -EEXIST, reported as a warning). */
		r = p11_pin_add(id->key_uri, id->pin_file, err, sizeof(err));
		if (r == -EEXIST) {
			keyd_log(LOG_WARNING, "%s:%u: identity %s: %s (needs a restart)", c->path,
				 id->line, id->name, err);
		} else if (r < 0) {
			gen_error(errs, "%s:%u: identity %s: %s", c->path, id->line, id->name, err);
			return r;
		}
	}
	r = p11_chain_load(id->cert_src, &g->chains[i], &g->chain_lens[i], err, sizeof(err));
	if (r < 0) {
		g->chains[i] = NULL;
		g->chain_lens[i] = 0;
		gen_error(errs, "%s:%u: identity %s: %s", c->path, id->line, id->name, err);
		return r;
	}
	/* The key itself is tried by the check at start (check.c) and by
	 * each worker when it first opens it (keys.c). */
	return 0;
}

/* Everything but the identities: priority, trust, cache, shares. */
static int build_common(struct keyd_gen *g, struct gen_errors *errs)
{
	const struct keyd_conf *c = g->conf;
	struct quota_limits lim = { .pending_per_uid = c->max_pending_per_uid,
				    .handshakes_per_uid = c->max_handshakes_per_uid,
				    .handshakes_per_id = c->max_handshakes_per_identity,
				    .n_ids = c->n_ids };
	char err[512] = "";
	size_t at;
	int r, bad = 0;

	r = trust_domain_build(&c->trust, 0, &g->trust, err, sizeof(err));
	if (r < 0) {
		gen_error(errs, "%s: %s", c->path, err);
		errs->anchors_bad = 1;
		bad = 1;
	}
	g->cred = g->trust.cred;
	g->prio = g->trust.prio;
	r = trust_domains_build(g, err, sizeof(err), &at);
	if (r < 0) {
		if (at != (size_t)-1)
			gen_error(errs, "%s:%u: identity %s: %s", c->path, c->ids[at].line, c->ids[at].name,
				  err);
		else
			gen_error(errs, "%s: %s", c->path, err);
		errs->anchors_bad = 1;
		bad = 1;
	}
	/* New ticket keys with every generation: a reload may change trust. */
	if (vcache_new(c->cache_size, c->cache_ttl_s, &g->vcache) < 0 || quota_new(&lim, &g->quota) < 0 ||
	    tickets_new(c, &g->tickets) < 0 || tickets_scache_new(c, &g->scache) < 0) {
		gen_error(errs, "%s: out of memory", c->path);
		return -ENOMEM;
	}
	return bad ? -EINVAL : 0;
}

int gen_build(const char *path, unsigned serial, struct gen_errors *errs,
	      struct keyd_gen **ret_gen)
{
	struct keyd_conf *conf;
	char err[2048] = "";
	int r;

	r = keyd_conf_load(path, &conf, err, sizeof(err));
	if (r < 0) {
		/* The parser reports every error, one line each. */
		for (const char *q = err, *nl; *q; q = nl ? nl + 1 : q + strlen(q)) {
			nl = strchr(q, '\n');
			gen_error(errs, "%.*s", nl ? (int)(nl - q) : (int)strlen(q), q);
		}
		return r == -ENOMEM ? r : -EINVAL;
	}
	return gen_build_conf(conf, serial, errs, ret_gen);
}

int gen_build_conf(struct keyd_conf *conf, unsigned serial, struct gen_errors *errs,
		   struct keyd_gen **ret_gen)
{
	const char *path = conf->path;
	struct keyd_gen *g;
	int r, bad = 0;

	g = calloc(1, sizeof(*g));
	if (!g) {
		gen_error(errs, "%s: out of memory", path);
		keyd_conf_free(conf);
		return -ENOMEM;
	}
	atomic_init(&g->refs, 1);
	g->serial = serial;
	g->conf = conf; /* owned by g from here on */
	g->chains = calloc(g->conf->n_ids ? g->conf->n_ids : 1, sizeof(*g->chains));
	g->chain_lens = calloc(g->conf->n_ids ? g->conf->n_ids : 1, sizeof(*g->chain_lens));
	g->ocsp = calloc(g->conf->n_ids ? g->conf->n_ids : 1, sizeof(*g->ocsp));
	if (!g->chains || !g->chain_lens || !g->ocsp) {
		gen_error(errs, "%s: out of memory", path);
		gen_unref(g);
		return -ENOMEM;
	}
	/* Go on after a bad identity: the operator hears about all of them. */
	for (size_t i = 0; i < g->conf->n_ids; i++)
		if (gen_identity_build(g, i, errs) < 0)
			bad = 1;
	r = build_common(g, errs);
	/* The staples need the trust anchors (an issuer may be one); a bad
	 * response is a warning, not a reason to refuse the generation. */
	for (size_t i = 0; r == 0 && !bad && i < g->conf->n_ids; i++)
		if (ocsp_staple_load(path, &g->conf->ids[i], g->chains[i], g->chain_lens[i], g->cred,
				     &g->ocsp[i]) < 0) {
			gen_error(errs, "%s: out of memory", path);
			r = -ENOMEM;
		}
	if (r < 0 || bad) {
		gen_unref(g);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*ret_gen = g;
	return 0;
}

static int str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

unsigned gen_restart_needed(const struct keyd_conf *old, const struct keyd_conf *fresh, char *out,
			    size_t len)
{
	const char *names[6];
	unsigned n = 0;
	size_t used = 0;

	if (str_differ(old->socket_path, fresh->socket_path))
		names[n++] = "socket";
	if (old->workers != fresh->workers)
		names[n++] = "workers";
	if (str_differ(old->module_path, fresh->module_path))
		names[n++] = "pkcs11-module";
	/* The resolver thread and its libunbound context start with the daemon. */
	if (str_differ(old->dns_resolver, fresh->dns_resolver))
		names[n++] = "dns-resolver";
	if (str_differ(old->dns_trust_anchor, fresh->dns_trust_anchor))
		names[n++] = "dns-trust-anchor";
	/* The OCSP cache is sized when the fetch threads start. */
	if (old->ocsp_cache_size != fresh->ocsp_cache_size)
		names[n++] = "ocsp-cache-size";
	if (len)
		out[0] = '\0';
	for (unsigned i = 0; i < n && used < len; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return n;
}
