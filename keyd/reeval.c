/* Re-evaluation: after a reload (new CRLs, anchors, ACL) or a revocation
 * learnt otherwise, established sessions whose peer or caller is no
 * longer allowed are ended (reevaluate = end), or noted (log).  The
 * accept thread posts the generation and ACL to check against to each
 * worker; each worker checks only its own connections, on its own
 * thread, so no connection is touched by two threads. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "keyd/aclstore.h"
#include "keyd/appsock.h"
#include "keyd/authz.h"
#include "keyd/conn.h"
#include "keyd/gen.h"
#include "keyd/log.h"
#include "keyd/ocsp_online.h"
#include "keyd/outcome.h"
#include "keyd/reeval.h"
#include "keyd/trust.h"
#include "keyd/worker.h"
#include "tlskey/starttls.h"

void reeval_request(struct keyd *k, const char *why)
{
	if (!k->gen || k->conf->reevaluate == KEYD_REEVAL_OFF)
		return;
	for (unsigned i = 0; i < k->n_workers; i++) {
		struct worker *w = &k->workers[i];
		struct keyd_gen *old_gen;
		unsigned acl_gen;
		struct acl *old_acl, *acl = aclstore_current(k, &acl_gen);

		pthread_mutex_lock(&w->lock);
		/* A newer request replaces one not yet run: only the latest
		 * generation counts. */
		old_gen = w->reeval_gen;
		old_acl = w->reeval_acl;
		w->reeval_gen = gen_ref(k->gen);
		w->reeval_acl = acl;
		w->reeval_acl_gen = acl_gen;
		(void)snprintf(w->reeval_why, sizeof(w->reeval_why), "%s", why);
		atomic_store(&w->reeval_pending, 1);
		pthread_mutex_unlock(&w->lock);
		gen_unref(old_gen);
		acl_unref(old_acl);
		if (eventfd_write(w->wakefd, 1) < 0)
			keyd_log(LOG_ERR, "worker %u: cannot ask for re-evaluation: %s", i, strerror(errno));
	}
}

/* May c's caller still do what it does, and its peer still be there,
 * under g and acl?  0, or a negative errno with reason and why. */
static int reeval_check(struct conn *c, const struct keyd_gen *g, struct acl *acl,
			const char **reason, char *why, size_t len)
{
	const struct keyd_request *q = &c->req;
	const struct keyd_identity *id = keyd_conf_identity(g->conf, q->msg.myname);
	struct acl_subject subj = caller_subject_view(&q->subj, q->unit);
	struct acl_request areq = { .subject = &subj, .myname = q->msg.myname,
				    .role = q->msg.role == TK_ROLE_SERVER ? ACL_ROLE_SERVER : ACL_ROLE_CLIENT,
				    .flags = q->msg.flags };
	struct keyd_request now;
	char user[TK_SHORT_MAX + 1] = "";

	if (!id) {
		*reason = "identity-removed";
		(void)snprintf(why, len, "identity %s is no longer configured", q->msg.myname);
		return -EKEYREVOKED;
	}
	if (ocsp_online_revoked(c)) {
		*reason = "revoked";
		(void)snprintf(why, len, "peer %s no longer valid (revoked: the OCSP responder says so)",
			       c->peer[0] ? c->peer : "-");
		return -EKEYREVOKED;
	}
	if (trust_peer_recheck(g, (size_t)(id - g->conf->ids), c, reason) < 0) {
		(void)snprintf(why, len, "peer %s no longer valid (%s)", c->peer[0] ? c->peer : "-", *reason);
		return -EKEYREVOKED;
	}
	/* A subject we could not record whole cannot be judged again: fail
	 * closed rather than guess. */
	if (q->subj.partial || !acl || acl_check(acl, &areq, &now.decision) < 0 || !now.decision.allowed) {
		*reason = "acl";
		(void)snprintf(why, len, "the ACL no longer lets uid %u use %s as %s", (unsigned)q->subj.uid,
			       q->msg.myname, q->msg.role == TK_ROLE_SERVER ? "server" : "client");
		return -EACCES;
	}
	if (!c->tls || (q->msg.flags & TLSKEY_FLAG_SKIP_AUTHORIZATION))
		return 0;
	/* The peer authorization of the rule that admits the caller now. */
	now.msg = q->msg;
	now.acl = acl;
	if (authz_peer(&now, c->peer, user, sizeof(user), why, len) < 0 ||
	    (now.decision.map_user && strcmp(user, c->mapped_user))) {
		*reason = "acl-peer";
		if (!why[0] || now.decision.map_user)
			(void)snprintf(why, len, "peer no longer authorized by %s", now.decision.where);
		return -EACCES;
	}
	return 0;
}

/* End c now: a fatal alert to the peer and a reset on both sides. */
static void reeval_end(struct conn *c, const char *reason, const char *why)
{
	c->reason = reason;
	conn_set_end(c, STATS_END_REVOKED);
	if (c->tls)
		(void)gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_CERTIFICATE_REVOKED);
	c->net_reset = 1;
	/* The application reads ECONNRESET, not an orderly end of stream. */
	if (c->app_tcp && c->app.fd >= 0)
		appsock_reset(c->app.fd);
	(void)conn_close(c, ECONNRESET, why);
}

void reeval_worker_run(struct worker *w)
{
	struct keyd_gen *g;
	struct acl *acl;
	char what[64];
	unsigned ended = 0, noted = 0, acl_gen;

	/* Every event batch passes here: no lock unless something is asked. */
	if (!atomic_exchange(&w->reeval_pending, 0))
		return;
	pthread_mutex_lock(&w->lock);
	g = w->reeval_gen;
	acl = w->reeval_acl;
	acl_gen = w->reeval_acl_gen;
	(void)snprintf(what, sizeof(what), "%s", w->reeval_why);
	w->reeval_gen = NULL;
	w->reeval_acl = NULL;
	pthread_mutex_unlock(&w->lock);
	if (!g)
		return;
	/* next first: ending c moves it to the grave, whose list its next
	 * then follows (the sessions after it would go unchecked). */
	for (struct conn *c = w->conns, *next; c; c = next) {
		const char *reason = NULL;
		char why[TK_MESSAGE_MAX] = "", detail[TK_MESSAGE_MAX + 160];
		int r;

		next = c->next;

		/* A draining session (its network side is gone) only hands the
		 * application what it has not read yet: leave it be. */
		if (c->dead || !c->established || c->state != CONN_RELAY)
			continue;
		r = reeval_check(c, g, acl, &reason, why, sizeof(why));
		if (r == 0)
			continue;
		(void)snprintf(detail, sizeof(detail), "%s (%s): %s", why, what,
			       g->conf->reevaluate == KEYD_REEVAL_END ? "session ended" : "kept (reevaluate = log)");
		if (g->conf->reevaluate == KEYD_REEVAL_END) {
			outcome_audit_reeval(c, -r, reason, detail);
			reeval_end(c, reason, detail);
			ended++;
		} else if (g->conf->reevaluate == KEYD_REEVAL_LOG) {
			outcome_audit_reeval(c, -r, reason, detail);
			noted++;
		}
	}
	if (ended || noted)
		keyd_log(LOG_NOTICE, "worker %u: re-evaluation (%s, generation %u): %u sessions ended, %u noted",
			 w->index, what, g->serial, ended, noted);
	/* Kept for the handshakes under way now: they were skipped above and
	 * would otherwise finish under the trust and ACL this run replaced. */
	gen_unref(w->reeval_last_gen);
	acl_unref(w->reeval_last_acl);
	w->reeval_last_gen = g;
	w->reeval_last_acl = acl;
	w->reeval_last_acl_gen = acl_gen;
}

int reeval_late_check(struct conn *c, char *why, size_t len)
{
	const struct worker *w = c->w;
	const struct keyd_gen *g = w->reeval_last_gen;
	const char *reason = NULL;
	char detail[TK_MESSAGE_MAX + 160], msg[TK_MESSAGE_MAX] = "";
	int r;

	if (!g || g->conf->reevaluate == KEYD_REEVAL_OFF ||
	    (c->req.gen->serial >= g->serial && c->req.acl_gen >= w->reeval_last_acl_gen))
		return 0;
	r = reeval_check(c, g, w->reeval_last_acl, &reason, msg, sizeof(msg));
	if (r == 0)
		return 0;
	c->reason = reason;
	(void)snprintf(detail, sizeof(detail), "%s (handshake under way at the reload): %s", msg,
		       g->conf->reevaluate == KEYD_REEVAL_END ? "refused" : "kept (reevaluate = log)");
	outcome_audit_reeval(c, -r, reason, detail);
	if (g->conf->reevaluate != KEYD_REEVAL_END)
		return 0;
	(void)snprintf(why, len, "%s", msg);
	return r;
}

void reeval_worker_clear(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	gen_unref(w->reeval_gen);
	acl_unref(w->reeval_acl);
	w->reeval_gen = NULL;
	w->reeval_acl = NULL;
	pthread_mutex_unlock(&w->lock);
	gen_unref(w->reeval_last_gen);
	acl_unref(w->reeval_last_acl);
	w->reeval_last_gen = NULL;
	w->reeval_last_acl = NULL;
}
