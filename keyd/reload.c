/* Reloading everything: the configuration file, every identity, the
 * trust anchors and pins, the priority, the cache, the limits and the ACL,
 * all or nothing.  Handshakes already admitted finish with the generation
 * they started with; relays never look at it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "keyd/aclstore.h"
#include "keyd/gen.h"
#include "keyd/log.h"
#include "keyd/notify.h"
#include "keyd/quota.h"
#include "keyd/reeval.h"
#include "keyd/reload.h"
#include "keyd/stats.h"
#include "keyd/worker.h"

#define RELOAD_NOTE_MAX 320

static void notify_reloading(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	keyd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
			 (unsigned long long)ts.tv_sec * 1000000ULL +
				 (unsigned long long)ts.tv_nsec / 1000ULL);
}

/* Append src to out (room len, used so far *used) with every occurrence
 * of prefix left out.  Returns 0, or -ENOSPC if it did not fit (out is
 * then left as it was). */
static int append_short(char *out, size_t len, size_t *used, const char *src, size_t n,
			const char *prefix)
{
	size_t pl = strlen(prefix), at = *used;

	for (size_t i = 0; i < n; i++) {
		if (pl && i + pl <= n && !strncmp(src + i, prefix, pl)) {
			i += pl - 1;
			continue;
		}
		if (at + 1 >= len)
			return -ENOSPC;
		out[at++] = src[i];
	}
	out[at] = '\0';
	*used = at;
	return 0;
}

/* The answer for errs into msg, with every occurrence of dir left out of
 * the errors ("" leaves them whole).  Returns the number of errors that
 * did not fit (the answer then says the log has them). */
static unsigned compose_errors(const struct gen_errors *errs, const char *dir, char *msg,
			       size_t len)
{
	size_t used, room = len > 48 ? len - 48 : len; /* for the tail */
	unsigned listed = 0;

	(void)snprintf(msg, len, "keeping the previous configuration: %u error%s%s%s%s: ", errs->n,
		       errs->n == 1 ? "" : "s", dir[0] ? " (in " : "", dir, dir[0] ? ")" : "");
	used = strlen(msg);
	for (const char *p = errs->text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p), keep = used;

		if ((listed && append_short(msg, room, &used, "; ", 2, "") < 0) ||
		    append_short(msg, room, &used, p, n, dir) < 0) {
			msg[keep] = '\0';
			(void)snprintf(msg + keep, len - keep, " ... (every error is in the daemon log)");
			return errs->n - listed;
		}
		listed++;
		p = nl ? nl + 1 : p + n;
	}
	return 0;
}

/* Every error goes to the log in full, one line each.  The answer (a
 * wire message, TK_MESSAGE_MAX bytes) lists them all with whole paths if
 * they fit, else with paths under the configuration file's directory
 * written relative to it, else as many as fit. */
static void report_errors(const char *conf_path, const struct gen_errors *errs, char *msg,
			  size_t len)
{
	const char *slash = strrchr(conf_path, '/');
	char dir[256] = "";

	for (const char *p = errs->text, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		keyd_log(LOG_ERR, "reload error: %.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
	}
	if (slash && (size_t)(slash - conf_path + 1) < sizeof(dir))
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - conf_path + 1), conf_path);
	if (compose_errors(errs, "", msg, len) && dir[0])
		(void)compose_errors(errs, dir, msg, len);
	keyd_log(LOG_ERR, "reload: %s", msg);
}

/* Restart-only settings keep running with their old values: copy them
 * into fresh before it is published, so that k->conf says what runs. */
static int carry_str(char **dst, const char *src)
{
	char *v = src ? strdup(src) : NULL;

	if (src && !v)
		return -ENOMEM;
	free(*dst);
	*dst = v;
	return 0;
}

static int carry_restart_only(const struct keyd_conf *old, struct keyd_conf *fresh)
{
	if (carry_str(&fresh->socket_path, old->socket_path) < 0 ||
	    carry_str(&fresh->module_path, old->module_path) < 0 ||
	    carry_str(&fresh->dns_resolver, old->dns_resolver) < 0 ||
	    carry_str(&fresh->dns_trust_anchor, old->dns_trust_anchor) < 0)
		return -ENOMEM;
	fresh->workers = old->workers;
	fresh->ocsp_cache_size = old->ocsp_cache_size;
	return 0;
}

/* Make g and acl the ones in force.  Requests already admitted keep
 * the references they hold. */
static void publish(struct keyd *k, struct keyd_gen *g, struct acl *acl)
{
	struct keyd_gen *old = k->gen;

	aclstore_publish(k, acl);
	pthread_mutex_lock(&k->gen_lock);
	k->gen = g;
	k->conf = g->conf;
	pthread_mutex_unlock(&k->gen_lock);
	atomic_store(&k->gen_serial, g->serial);
	quota_set_pending_per_uid(k->quota, g->conf->max_pending_per_uid);
	/* Workers drop their keys of the old generation once idle. */
	for (unsigned i = 0; i < k->n_workers; i++)
		(void)eventfd_write(k->workers[i].wakefd, 1);
	gen_unref(old);
}

int reload_run(struct keyd *k, char *msg, size_t len)
{
	struct gen_errors errs;
	struct keyd_gen *g = NULL;
	struct acl *acl = NULL;
	char restart[128] = "", acl_note[RELOAD_NOTE_MAX];
	const char *acl_path;
	int r;

	memset(&errs, 0, sizeof(errs));
	if (!k->conf->path) {
		/* Parsed from a buffer (unit tests): nothing to read again. */
		(void)snprintf(msg, len, "keeping the previous configuration: no configuration file");
		return -ENOENT;
	}
	notify_reloading();
	r = gen_build(k->conf->path, k->gen->serial + 1, &errs, &g);
	/* The ACL is checked even when the configuration is not, so that
	 * one reload lists every error there is. */
	acl_path = g ? g->conf->acl_path : k->conf->acl_path;
	if (aclstore_parse(acl_path, &acl, &errs) < 0 && r == 0)
		r = -EINVAL;
	if (r == 0 && gen_restart_needed(k->conf, g->conf, restart, sizeof(restart)) &&
	    carry_restart_only(k->conf, g->conf) < 0) {
		gen_error(&errs, "%s: out of memory", k->conf->path);
		r = -ENOMEM;
	}
	if (r < 0) {
		report_errors(k->conf->path, &errs, msg, len);
		gen_unref(g);
		acl_unref(acl);
		(void)snprintf(k->reload_note, sizeof(k->reload_note),
			       "reload failed (%u error%s), previous configuration kept", errs.n,
			       errs.n == 1 ? "" : "s");
		keyd_notifyf("READY=1\nSTATUS=%s", k->reload_note);
		return r;
	}
	stats_assign(k->stats, g->conf);
	publish(k, g, acl);
	/* Sessions admitted under the old rules and trust: still allowed? */
	reeval_request(k, "reload");
	if (acl)
		(void)snprintf(acl_note, sizeof(acl_note), "ACL loaded from %s (%zu rules)", acl_path,
			       acl_rule_count(acl));
	else
		(void)snprintf(acl_note, sizeof(acl_note), "no 'acl' file configured, every request is denied");
	(void)snprintf(msg, len, "%s; configuration %s (generation %u, %zu identities)%s%s", acl_note,
		       g->conf->path, g->serial, g->conf->n_ids, restart[0] ? "; needs a restart: " : "",
		       restart);
	keyd_log(LOG_NOTICE, "%s", msg);
	(void)snprintf(k->reload_note, sizeof(k->reload_note), "reloaded (generation %u)%s%s",
		       g->serial, restart[0] ? ", needs a restart: " : "", restart);
	keyd_notifyf("READY=1\nSTATUS=%s", k->reload_note);
	return 0;
}
