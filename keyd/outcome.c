/* Outcome of a request: the result message to the caller, the audit
 * record, and what tlskey_query() will report about the session. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "keyd/identity.h"
#include "keyd/log.h"
#include "keyd/outcome.h"
#include "keyd/gen.h"
#include "keyd/worker.h"
#include "tlskey/starttls.h"

const char *outcome_role_name(const struct conn *c)
{
	return c->req.msg.role == TK_ROLE_SERVER ? "server" : "client";
}

/* TLSKEY_INFO_* for the protected descriptor of c (see starttls.h). */
static uint32_t info_flags(const struct conn *c)
{
	uint32_t f = 0;

	if (c->app.fd >= 0 && !c->app_tcp && !c->dtls) {
		f |= TLSKEY_INFO_TRUNCATION_UNREPORTED;
		if (!c->req.gen->conf->protected_unix)
			f |= TLSKEY_INFO_UNIX_FALLBACK;
	}
	if (c->resumed)
		f |= TLSKEY_INFO_RESUMED;
	return f;
}

void outcome_send_result(struct conn *c, int err, const char *message, int passfd)
{
	struct tk_msg *m;
	int r;

	if (c->ctl.fd < 0)
		return;
	m = calloc(1, sizeof(*m));
	if (!m)
		return;
	m->type = TK_MSG_RESULT;
	m->err = (uint32_t)err;
	m->present = 1u << TK_TAG_ERRNO;
	if (message && *message)
		(void)tk_msg_set_str(m, TK_TAG_MESSAGE, message);
	if (!err) {
		m->state = c->tls ? TK_STATE_SECURE : TK_STATE_CLEARTEXT;
		m->present |= 1u << TK_TAG_STATE;
		m->info_flags = info_flags(c);
		m->present |= 1u << TK_TAG_INFO_FLAGS;
		(void)tk_msg_set_str(m, TK_TAG_PEERNAME, c->peer);
		if (c->mapped_user[0])
			(void)tk_msg_set_str(m, TK_TAG_MAPPED_USER, c->mapped_user);
		(void)tk_msg_set_str(m, TK_TAG_ALPN_SELECTED, c->alpn);
		if (c->keep_ctl) {
			m->keep = 1;
			m->present |= 1u << TK_TAG_KEEP;
		}
	}
	r = tk_msg_send(c->ctl.fd, m, passfd);
	free(m);
	if (r < 0)
		keyd_log(LOG_INFO, "pid=%d: could not deliver result: %s", (int)c->req.cred.pid,
			 strerror(-r));
}

void outcome_audit(const struct conn *c, const char *event, int err, const char *detail)
{
	outcome_audit_prio(c, event, err, 0, detail);
}

static enum stats_outcome event_outcome(const char *event)
{
	if (!strcmp(event, "established"))
		return STATS_ESTABLISHED;
	if (!strcmp(event, "cleartext"))
		return STATS_CLEARTEXT;
	if (!strcmp(event, "closed-before-hello"))
		return STATS_CLOSED_BEFORE_HELLO;
	if (!strcmp(event, "acl-denied"))
		return STATS_ACL_DENIED;
	return STATS_FAILED;
}

char *outcome_remote_of(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)))
			(void)snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)))
			(void)snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
	return buf;
}

char *outcome_remote(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	buf[0] = '\0';
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return buf;
	return outcome_remote_of(&ss, buf, len);
}

/* The fields every audit record about connection c carries. */
static struct keyd_audit audit_of(const struct conn *c, const char *event, int err,
				  const char *detail, int prio)
{
	const struct keyd_request *q = &c->req;

	return (struct keyd_audit){
		.event = event,
		.cred = &q->cred,
		.unit = q->unit,
		.myname = q->msg.myname,
		.role = outcome_role_name(c),
		.key_uri = q->id ? q->id->key_uri : NULL,
		.peer = c->peer[0] ? c->peer : NULL,
		.err = err,
		.rule = q->decision.where,
		.sign_us = -1,
		.handshake_ms = -1,
		.detail = detail,
		.reason = c->reason,
		.remote = q->remote,
		.flags = q->msg.flags,
		.has_flags = 1,
		.prio = prio,
	};
}

void outcome_session_end(const struct conn *c, const char *why)
{
	enum stats_end e = c->end ? (enum stats_end)(c->end - 1) : STATS_END_ERROR;
	static const int errs[STATS_END_N] = { 0, 0, ECONNRESET, ECONNRESET, ETIMEDOUT, EPROTO,
					       ESHUTDOWN, EKEYREVOKED };
	/* How a session ends is the peer's business: a record, not a
	 * warning, even when it is a reset. */
	struct keyd_audit a = audit_of(c, "session-end", errs[e], why, LOG_INFO);

	a.end = stats_end_name(e);
	a.bytes_in = (long long)c->bytes_in;
	a.bytes_out = (long long)c->bytes_out;
	a.duration_ms = (long long)(tk_now_ms() - c->t_estab_ms);
	keyd_audit(&a);
	stats_session_end(c->w->k->stats, e, c->bytes_in, c->bytes_out);
}

void outcome_audit_prio(const struct conn *c, const char *event, int err, int prio,
			const char *detail)
{
	struct keyd_audit a = audit_of(c, event, err, detail, prio);

	a.sign_us = c->sign_us;
	a.handshake_ms = (long)(tk_now_ms() - c->req.t_start_ms);
	keyd_audit(&a);
	stats_outcome(c->w->k->stats, event_outcome(event), err,
		      c->req.id ? c->req.id->stats_slot : (size_t)-1);
	if (c->resumed && event_outcome(event) == STATS_ESTABLISHED)
		stats_resumed(c->w->k->stats);
}

/* Every identity the peer's certificate proves, in the order of
 * doc/identities.md, for the session query: 0 and *ret filled, or -1
 * (then the session reports its peer name alone). */
static int describe_ids(const struct conn *c, const gnutls_datum_t *der, struct keyd_peer_ids *ret)
{
	gnutls_x509_crt_t crt;
	int r = -1;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) == 0 &&
	    keyd_identity_list(crt, keyd_conf_peer_cn(c->req.gen->conf, c->req.id), ret) == 0 &&
	    ret->n > 0)
		r = 0;
	gnutls_x509_crt_deinit(crt);
	return r;
}

/* Publish what tlskey_query() will report about this session. */
/* What only a TLS session knows: the negotiated parameters. */
static void describe_tls(const struct conn *c, struct session_info *i)
{
	gnutls_session_t s = c->tls;
	gnutls_datum_t alpn = { NULL, 0 };
	const char *name;
	char sni[TK_NAME_MAX + 1];
	size_t len = sizeof(sni);
	unsigned type;
	int sig;

	(void)snprintf(i->version, sizeof(i->version), "%s",
		       gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	name = gnutls_ciphersuite_get(s);
	(void)snprintf(i->cipher, sizeof(i->cipher), "%s", name ? name : "");
	name = gnutls_group_get_name(gnutls_group_get(s));
	(void)snprintf(i->group, sizeof(i->group), "%s", name ? name : "");
	sig = gnutls_sign_algorithm_get(s);
	name = sig > 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig) : NULL;
	(void)snprintf(i->sign, sizeof(i->sign), "%s", name ? name : "");
	sig = gnutls_sign_algorithm_get_client(s);
	name = sig > 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig) : NULL;
	(void)snprintf(i->client_sign, sizeof(i->client_sign), "%s", name ? name : "");
	if (gnutls_alpn_get_selected_protocol(s, &alpn) == 0 && alpn.size <= TK_NAME_MAX &&
	    !memchr(alpn.data, '\0', alpn.size))
		(void)snprintf(i->alpn, sizeof(i->alpn), "%.*s", (int)alpn.size, (const char *)alpn.data);
	i->resumed = gnutls_session_is_resumed(s) != 0;
	if (c->req.msg.role == TK_ROLE_SERVER &&
	    gnutls_server_name_get(s, sni, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS)
		(void)snprintf(i->sni, sizeof(i->sni), "%s", sni);
	if (c->req.msg.role == TK_ROLE_CLIENT)
		i->client_auth = gnutls_certificate_client_get_request_status(s) ? TLSKEY_CLIENT_AUTH_REQUEST
										 : TLSKEY_CLIENT_AUTH_NONE;
}

/* Server role: what the caller's flags asked of the client. */
static uint8_t server_auth_mode(uint32_t flags)
{
	if (flags & TLSKEY_FLAG_NO_REQUEST_PEER_CERT)
		return TLSKEY_CLIENT_AUTH_NONE;
	if (flags & TLSKEY_FLAG_NO_REQUIRE_PEER_CERT)
		return TLSKEY_CLIENT_AUTH_REQUEST;
	return TLSKEY_CLIENT_AUTH_REQUIRE;
}

struct session_info *outcome_describe(struct conn *c)
{
	const gnutls_datum_t *certs = NULL;
	struct registry_piece chain[TK_DOC_CERTS_MAX], id = { c->peer, strlen(c->peer) };
	struct registry_piece idv[TK_DOC_IDS_MAX];
	struct keyd_peer_ids ids = { .n = 0 };
	struct session_info *i;
	size_t n_ids = 0;
	unsigned n = 0;

	if (c->tls)
		certs = gnutls_certificate_get_peers(c->tls, &n);
	if (!certs)
		n = 0;
	if (n > TK_DOC_CERTS_MAX)
		n = TK_DOC_CERTS_MAX;
	for (unsigned k = 0; k < n; k++)
		chain[k] = (struct registry_piece){ certs[k].data, certs[k].size };
	/* A pinned peer has its pinned name alone (trust_pin_name()). */
	if (n && !c->pinned && describe_ids(c, &certs[0], &ids) == 0) {
		for (size_t k = 0; k < ids.n && k < TK_DOC_IDS_MAX; k++)
			idv[n_ids++] = (struct registry_piece){ ids.id[k], strlen(ids.id[k]) };
	} else if (id.len) {
		idv[n_ids++] = id;
	}
	i = registry_info_new(chain, n, idv, n_ids);
	if (!i)
		return NULL;
	i->state = c->tls ? TK_STATE_SECURE : TK_STATE_CLEARTEXT;
	i->info_flags = info_flags(c);
	i->hs_ms = (uint32_t)(tk_now_ms() - c->req.t_start_ms);
	i->role = c->req.msg.role;
	i->owner = c->w;
	i->uid = c->req.cred.uid;
	if (c->req.msg.role == TK_ROLE_SERVER)
		i->client_auth = server_auth_mode(c->req.msg.flags);
	if (c->tls)
		describe_tls(c, i);
	if (c->req.msg.role == TK_ROLE_CLIENT && TK_HAS(&c->req.msg, TK_TAG_SNINAME))
		(void)snprintf(i->sni, sizeof(i->sni), "%s", c->req.msg.sniname);
	(void)snprintf(i->acl_rule, sizeof(i->acl_rule), "%s", c->req.decision.where);
	(void)snprintf(i->peer, sizeof(i->peer), "%s", c->peer);
	(void)snprintf(i->local, sizeof(i->local), "%s", c->req.msg.myname);
	(void)snprintf(i->mapped_user, sizeof(i->mapped_user), "%s", c->mapped_user);
	(void)snprintf(i->alpn, sizeof(i->alpn), "%s", c->alpn);
	return i;
}

void outcome_audit_reeval(const struct conn *c, int err, const char *reason, const char *detail)
{
	struct keyd_audit a = audit_of(c, "reevaluate", err, detail, err ? LOG_WARNING : LOG_INFO);

	a.reason = reason;
	keyd_audit(&a); /* a note, not an outcome: no counter */
}
