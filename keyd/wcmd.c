#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <gnutls/gnutls.h>

#include "common/util.h"
#include "keyd/keyupdate.h"
#include "keyd/log.h"
#include "keyd/passclose.h"
#include "keyd/relay.h"
#include "keyd/wcmd.h"
#include "keyd/worker.h"

int wcmd_submit(struct worker *w, struct wcmd *cmd)
{
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->stop)
		r = -ESHUTDOWN;
	else if (w->n_wcmds >= WCMD_QUEUE_MAX)
		r = -EAGAIN;
	if (r == 0) {
		cmd->next = w->wcmds;
		w->wcmds = cmd;
		w->n_wcmds++;
	}
	pthread_mutex_unlock(&w->lock);
	if (r == 0)
		(void)eventfd_write(w->wakefd, 1);
	return r;
}

/* The answer: a RESULT, sent without blocking (the caller may not read;
 * then it gets nothing and times out). */
static void answer(struct wcmd *cmd, int err, const char *why, const uint8_t *out, size_t len)
{
	struct tk_msg *m = calloc(1, sizeof(*m));

	if (m) {
		m->type = TK_MSG_RESULT;
		m->err = (uint32_t)err;
		m->present = 1u << TK_TAG_ERRNO;
		if (why)
			(void)tk_msg_set_str(m, TK_TAG_MESSAGE, why);
		if (out) {
			memcpy(m->exported, out, len);
			m->exported_len = (uint16_t)len;
			m->present |= 1u << TK_TAG_EXPORTED;
		}
		(void)tk_msg_send(cmd->ctlfd, m, -1);
		tk_wipe(m->exported, sizeof(m->exported));
		free(m);
	}
	/* Maybe the last copy of the connection (the accept loop closes
	 * its own without a shutdown: CONTROL_KEPT). */
	cmd->ctlfd = passclose_ctl(cmd->ctlfd);
}

static struct conn *find_conn(struct worker *w, uint64_t serial)
{
	for (struct conn *c = w->conns; c; c = c->next)
		if (!c->dead && c->info && c->info->serial == serial)
			return c;
	return NULL;
}

/* Labels the TLS 1.2 PRF uses itself (RFC 5705 4, RFC 7627): with a
 * server that echoes the client's random, "key expansion" without context
 * would hand out the session's own traffic keys. */
static int label_reserved(const char *label)
{
	static const char *const reserved[] = { "client finished", "server finished",
						 "master secret", "key expansion",
						 "extended master secret" };

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcmp(label, reserved[i]))
			return 1;
	return 0;
}

static void run_export(struct conn *c, struct wcmd *cmd)
{
	uint8_t out[TK_EXPORT_MAX];
	int tls13, r;

	if (!c->tls) {
		answer(cmd, EOPNOTSUPP, "the session is in cleartext: no keying material", NULL, 0);
		return;
	}
	tls13 = gnutls_protocol_get_version(c->tls) == GNUTLS_TLS1_3;
	/* Without Extended Master Secret a man in the middle can give two
	 * TLS 1.2 connections the same master secret (the triple handshake),
	 * so their keying material, channel bindings included, would match
	 * (RFC 7627, RFC 9266 4.2). */
	if (!tls13 && !gnutls_session_ext_master_secret_status(c->tls)) {
		answer(cmd, EOPNOTSUPP, "TLS 1.2 without Extended Master Secret (RFC 7627): its keying "
		       "material could be another connection's too", NULL, 0);
		return;
	}
	if (label_reserved(cmd->label)) {
		answer(cmd, EINVAL, "that exporter label is one TLS itself uses (RFC 5705)", NULL, 0);
		return;
	}
	r = gnutls_prf_rfc5705(c->tls, strlen(cmd->label), cmd->label,
			       cmd->has_context ? cmd->context_len : 0,
			       cmd->has_context ? (const char *)cmd->context : NULL, cmd->out_len,
			       (char *)out);
	/* GnuTLS 3.7 refuses TLS 1.3 labels over 63 bytes (measured by
	 * session-info.sh); what a later one takes is its own business. */
	if (r == GNUTLS_E_INVALID_REQUEST)
		answer(cmd, EINVAL, tls13 ? "GnuTLS refused the exporter label (GnuTLS 3.7 takes at most "
				     "63 bytes in TLS 1.3)" : "GnuTLS refused the exporter request", NULL, 0);
	else if (r < 0)
		answer(cmd, EIO, gnutls_strerror(r), NULL, 0);
	else
		answer(cmd, 0, NULL, out, cmd->out_len);
	tk_wipe(out, sizeof(out));
}

static void run_key_update(struct conn *c, struct wcmd *cmd)
{
	int r = keyupdate_request(c);

	if (r == -EOPNOTSUPP) {
		answer(cmd, EOPNOTSUPP, "KeyUpdate needs TLS 1.3 (not TLS 1.2, DTLS or cleartext)", NULL, 0);
		return;
	}
	if (r < 0) {
		answer(cmd, -r, "our close_notify is out: no KeyUpdate after it", NULL, 0);
		return;
	}
	answer(cmd, 0, NULL, NULL, 0);
	/* May close c: its memory lives to the end of the batch. */
	if (relay_kick(c) == CONN_CLOSED)
		return;
}

static void run_close_notify(struct conn *c, struct wcmd *cmd)
{
	if (!c->tls) {
		answer(cmd, EOPNOTSUPP, "the session is in cleartext: no TLS to end", NULL, 0);
		return;
	}
	if (c->app_eof || c->bye_pending || c->bye_done) {
		answer(cmd, EALREADY, "close_notify already sent", NULL, 0);
		return;
	}
	answer(cmd, 0, NULL, NULL, 0);
	if (relay_stop(c) == CONN_CLOSED)
		return;
}

static void run_one(struct worker *w, struct wcmd *cmd)
{
	struct conn *c = find_conn(w, cmd->serial);
	const char *op;

	if (!c) {
		answer(cmd, ENOENT, "no tlskeyd session behind this descriptor", NULL, 0);
		return;
	}
	if (c->state != CONN_RELAY) {
		answer(cmd, ENOTCONN, "the session has failed", NULL, 0);
		return;
	}
	op = cmd->op == TK_CTL_EXPORT ? "export" : cmd->op == TK_CTL_KEY_UPDATE ? "key-update"
										 : "close-notify";
	keyd_log(LOG_DEBUG, "uid=%u myname=%s peer=%s: session control %s", (unsigned)cmd->cred.uid,
		 c->req.msg.myname, c->peer[0] ? c->peer : "(none)", op);
	/* Holding the protected descriptor is the credential (registry.h);
	 * one passed to another uid is on the record when it is used. */
	if (cmd->cred.uid != c->req.cred.uid) {
		char detail[160];
		struct keyd_audit a = { .event = "session-control", .cred = &cmd->cred,
					.myname = c->req.msg.myname,
					.role = c->req.msg.role == TK_ROLE_SERVER ? "server" : "client",
					.peer = c->peer[0] ? c->peer : NULL, .sign_us = -1,
					.handshake_ms = -1, .remote = c->req.remote[0] ? c->req.remote : NULL,
					.detail = detail, .prio = LOG_NOTICE };

		(void)snprintf(detail, sizeof(detail), "%s on a session uid %u started (pid %d): its "
			       "protected descriptor was passed on", op, (unsigned)c->req.cred.uid,
			       (int)c->req.cred.pid);
		keyd_audit(&a);
	}
	switch (cmd->op) {
	case TK_CTL_EXPORT:
		run_export(c, cmd);
		break;
	case TK_CTL_KEY_UPDATE:
		run_key_update(c, cmd);
		break;
	case TK_CTL_CLOSE_NOTIFY:
		run_close_notify(c, cmd);
		break;
	default:
		answer(cmd, EINVAL, "unknown session control", NULL, 0);
	}
}

void wcmd_run(struct worker *w)
{
	struct wcmd *list, *rev = NULL;

	pthread_mutex_lock(&w->lock);
	list = w->wcmds;
	w->wcmds = NULL;
	w->n_wcmds = 0;
	pthread_mutex_unlock(&w->lock);
	/* In the order they came. */
	while (list) {
		struct wcmd *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct wcmd *next = rev->next;
		run_one(w, rev);
		tk_wipe(rev->label, sizeof(rev->label));
		tk_wipe(rev->context, sizeof(rev->context));
		free(rev);
		rev = next;
	}
}
