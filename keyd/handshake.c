/* The TLS handshake engine: one non-blocking GnuTLS handshake per conn,
 * driven by the worker's epoll loop.  Private-key operations go to the
 * worker's own token session (see pkcs11/). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <pwd.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/x509.h>

#include "common/file.h"
#include "common/util.h"
#include "keyd/alpn.h"
#include "keyd/authz.h"
#include "keyd/dane_match.h"
#include "keyd/identity.h"
#include "keyd/keys.h"
#include "keyd/outcome.h"
#include "keyd/gen.h"
#include "keyd/conn.h"
#include "keyd/handshake.h"
#include "keyd/dtls_cookie.h"
#include "keyd/relay.h"
#include "keyd/appsock.h"
#include "keyd/ctlconn.h"
#include "keyd/signer.h"
#include "keyd/trust.h"
#include "keyd/reeval.h"
#include "keyd/vhost.h"
#include "keyd/tickets.h"
#include "keyd/relay_io.h"
#include "keyd/transport.h"
#include "keyd/worker.h"
#include "keyd/log.h"
#include "keyd/ocsp.h"
#include "keyd/ocsp_online.h"
#include "keyd/passclose.h"
#include "keyd/p11reset.h"
#include <netinet/in.h>
#include "pkcs11/p11.h"
#include "tlskey/starttls.h"


/* End a handshake: audit (event at prio), answer the caller, close. */
static enum conn_status fail_as(struct conn *c, const char *event, int prio, int err,
				const char *msg)
{
	outcome_audit_prio(c, event, err, prio, msg);
	outcome_send_result(c, err, msg, -1);
	if (c->net.fd >= 0)
		(void)shutdown(c->net.fd, SHUT_RDWR);
	return conn_close(c, err, msg);
}

enum conn_status handshake_fail(struct conn *c, int err, const char *fmt, ...)
{
	char msg[TK_MESSAGE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail_as(c, "handshake-failed", 0, err, msg);
}

/* Map a fatal GnuTLS handshake error to an errno and a sentence. */
static int explain(struct conn *c, int r, char *buf, size_t len)
{
	switch (r) {
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
	case GNUTLS_E_CERTIFICATE_ERROR: {
		gnutls_datum_t out = { NULL, 0 };
		unsigned status = c->verify_status;
		const char *word = ocsp_status_word(status);

		if (c->dane_why) {
			(void)snprintf(buf, len, "peer certificate rejected: DANE: %s", c->dane_why);
		} else if (status && gnutls_certificate_verification_status_print(
				      status, GNUTLS_CRT_X509, &out, 0) == 0) {
			(void)snprintf(buf, len, "peer certificate rejected%s%s: %s", word ? ": " : "",
				       word ? word : "", (char *)out.data);
			gnutls_free(out.data);
		} else {
			(void)snprintf(buf, len, "peer certificate rejected: %s", gnutls_strerror(r));
		}
		return EKEYREJECTED;
	}
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		(void)snprintf(buf, len, "peer sent no certificate");
		return EKEYREJECTED;
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		/* The peer picks the code: GnuTLS names only those it knows. */
		gnutls_alert_description_t a = gnutls_alert_get(c->tls);
		const char *name = gnutls_alert_get_name(a);

		if (name)
			(void)snprintf(buf, len, "peer sent fatal alert: %s", name);
		else
			(void)snprintf(buf, len, "peer sent fatal alert: unknown (%u)", (unsigned)a);
		return ECONNABORTED;
	}
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		(void)snprintf(buf, len, "connection closed by peer during handshake");
		return ECONNRESET;
	case GNUTLS_E_UNRECOGNIZED_NAME:
		(void)snprintf(buf, len, "server name refused");
		return EHOSTUNREACH;
	case GNUTLS_E_NO_APPLICATION_PROTOCOL:
		(void)snprintf(buf, len, "no ALPN protocol in common with the peer (strict ALPN)");
		return ENOPROTOOPT;
	case GNUTLS_E_PK_SIGN_FAILED:
	case GNUTLS_E_PKCS11_ERROR:
	case GNUTLS_E_PKCS11_DEVICE_ERROR:
	case GNUTLS_E_PKCS11_TOKEN_ERROR:
	case GNUTLS_E_PKCS11_SESSION_ERROR:
	case GNUTLS_E_PKCS11_PIN_ERROR:
	case GNUTLS_E_PKCS11_KEY_ERROR: {
		const struct worker_key *wk = c->ks ? &c->ks->keys[c->req.id_index] : NULL;

		if (wk && wk->fd_short) {
			(void)snprintf(buf, len,
				       "token operation failed for key %s while tlskeyd was at its open file "
				       "limit (about %llu of %llu descriptors open), so the key is kept: %s",
				       c->req.id->key_uri, wk->fd_open, wk->fd_limit, gnutls_strerror(r));
			return EMFILE;
		}
		(void)snprintf(buf, len, "token operation failed for key %s: %s", c->req.id->key_uri,
			       gnutls_strerror(r));
		return KEYS_ERRNO;
	}
	default:
		(void)snprintf(buf, len, "TLS handshake failed: %s", gnutls_strerror(r));
		return EPROTO;
	}
}


static int post_client_hello(gnutls_session_t s)
{
	struct conn *c = gnutls_session_get_ptr(s);
	struct tk_msg q = { .type = TK_MSG_SNI_QUERY };
	char name[TK_NAME_MAX + 1] = "";
	size_t len = sizeof(name); /* GnuTLS wants room for the NUL it writes */
	unsigned type;
	int r;

	r = gnutls_server_name_get(s, name, &len, &type, 0);
	if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		name[0] = '\0'; /* no server name */
	} else if (r < 0 || type != GNUTLS_NAME_DNS || len >= sizeof(name) || memchr(name, '\0', len)) {
		/* A name we cannot hold is not "no name": where the name
		 * matters (an identity list or pattern, checksni) that
		 * would pick the default or ask the app about "". */
		if (c->req.vhost || c->req.msg.checksni)
			return GNUTLS_E_UNRECOGNIZED_NAME;
		name[0] = '\0';
	} else {
		name[len] = '\0';
	}
	/* The identity first: the application is asked about a name only
	 * once it is known to be ours and the caller's to use. */
	if (c->req.vhost) {
		if (vhost_pick(c, name) < 0)
			return GNUTLS_E_UNRECOGNIZED_NAME;
		/* The picked identity's own priority, anchors and CA names. */
		if (trust_apply_identity(c) < 0)
			return GNUTLS_E_INTERNAL_ERROR;
	}
	if (!c->req.msg.checksni)
		return 0;
	switch (c->sni) {
	case SNI_ACCEPTED:
		return 0;
	case SNI_REFUSED:
		return GNUTLS_E_UNRECOGNIZED_NAME;
	case SNI_ASKED:
		return GNUTLS_E_INTERRUPTED;
	case SNI_NONE:
		break;
	}
	/* Let the application decide; the handshake waits for the answer. */
	q.present = 1u << TK_TAG_SNINAME;
	(void)tk_msg_set_str(&q, TK_TAG_SNINAME, name);
	r = tk_msg_send(c->ctl.fd, &q, -1);
	if (r < 0)
		return GNUTLS_E_INTERNAL_ERROR;
	c->sni = SNI_ASKED;
	return GNUTLS_E_INTERRUPTED;
}


static enum conn_status set_net_interest(struct conn *c)
{
	uint32_t mask = gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN;
	int r = conn_ev_update(c, &c->net, mask);

	if (r < 0)
		return handshake_fail(c, -r, "epoll: %s", strerror(-r));
	return CONN_LIVE;
}

/* The local side may start: a must-staple refusal first (before the
 * token is touched), then this worker's key. */
static int local_ready(struct conn *c, char *why, size_t len)
{
	const struct keyd_request *q = &c->req;
	int r = 0;

	if (q->msg.role == TK_ROLE_SERVER)
		r = ocsp_server_check(&q->gen->ocsp[q->id_index], q->id->name, time(NULL), why, len);
	return r < 0 ? r : keys_ensure(c, why, len);
}

enum conn_status handshake_begin(struct conn *c)
{
	const struct keyd_request *q = &c->req;
	char alpn_why[TK_MESSAGE_MAX];
	unsigned flags, timeout;
	int r;

	/* A list's key is made ready once the ClientHello chose it (vhost.c). */
	if (!q->vhost && !(q->msg.role == TK_ROLE_CLIENT && (q->msg.flags & TLSKEY_FLAG_NO_LOCAL_CERT))) {
		char why[TK_MESSAGE_MAX];

		r = local_ready(c, why, sizeof(why));
		if (r < 0)
			return handshake_fail(c, -r, "%s", why);
	}
	/* O_NONBLOCK is neither set nor relied on: the transport functions
	 * pass MSG_DONTWAIT (net_pull). */
	c->dtls = q->msg.proto == IPPROTO_UDP;
	flags = (q->msg.role == TK_ROLE_SERVER ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
		GNUTLS_NO_SIGNAL | (c->dtls ? GNUTLS_DATAGRAM : 0);
	/* No session tickets unless resumption is on (tickets.c), which
	 * validates and authorizes a resumed session afresh in finish(). */
	flags |= tickets_init_flags(q);
	r = gnutls_init(&c->tls, flags);
	if (r < 0) {
		c->tls = NULL;
		return handshake_fail(c, ENOMEM, "gnutls_init: %s", gnutls_strerror(r));
	}
	gnutls_session_set_ptr(c->tls, c);
	r = trust_apply_identity(c);
	if (r < 0) {
		return handshake_fail(c, ENOMEM, "session setup: %s", gnutls_strerror(r));
	}
	r = alpn_session_setup(c, alpn_why, sizeof(alpn_why));
	if (r < 0)
		return handshake_fail(c, -r, "%s", alpn_why);
	if (tickets_session_setup(c) < 0)
		return handshake_fail(c, EIO, "session setup: no session ticket key");
	transport_attach(c);
	if (q->msg.role == TK_ROLE_CLIENT) {
		const char *sni = TK_HAS(&q->msg, TK_TAG_SNINAME) ? q->msg.sniname : NULL;

		if (sni)
			(void)gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, sni, strlen(sni));
		if (ocsp_client_setup(c->tls, ocsp_peer_mode(q->gen->conf, q->id)) < 0)
			return handshake_fail(c, ENOMEM, "session setup: out of memory");
	} else {
		gnutls_certificate_request_t want = GNUTLS_CERT_REQUIRE;

		if (q->msg.flags & TLSKEY_FLAG_NO_REQUEST_PEER_CERT)
			want = GNUTLS_CERT_IGNORE;
		else if (q->msg.flags & TLSKEY_FLAG_NO_REQUIRE_PEER_CERT)
			want = GNUTLS_CERT_REQUEST;
		gnutls_certificate_server_set_request(c->tls, want);
		/* Only when the application decides on the server name, as
		 * gnutls-serv installs its callback only with --sni-hostname:
		 * after a post-client-hello callback GnuTLS negotiates the version
		 * again from the ClientHello's legacy_version unless TLS 1.3 was
		 * picked (_gnutls_user_hello_func in lib/handshake.c, 3.7.9), so
		 * a client whose supported_versions lists only TLS 1.1 (and an
		 * unknown version) got TLS 1.2, which it had not offered.
		 * XXX: with checksni that GnuTLS behaviour remains. */
		if (q->msg.checksni || q->vhost)
			gnutls_handshake_set_post_client_hello_function(c->tls, post_client_hello);
	}
	timeout = q->msg.timeout_ms ? q->msg.timeout_ms : q->gen->conf->handshake_timeout_ms;
	/* Already running if DANE looked up TLSA records first (dane_conn.c). */
	if (!c->deadline_ms)
		c->deadline_ms = tk_now_ms() + timeout;
	if (c->dtls) {
		/* Our own timer ends the handshake; GnuTLS only paces resends. */
		gnutls_dtls_set_timeouts(c->tls, 1000, timeout + 1000);
		gnutls_dtls_set_mtu(c->tls, KEYD_DTLS_MTU);
		c->cookie_wait = q->msg.role == TK_ROLE_SERVER;
	}
	/* Watch the caller: if it goes away, the handshake is pointless. */
	r = conn_ev_update(c, &c->ctl, EPOLLIN | EPOLLRDHUP);
	if (r < 0) {
		return handshake_fail(c, -r, "epoll: %s", strerror(-r));
	}
	if (q->msg.role == TK_ROLE_SERVER && q->msg.allow_hs_timeout) {
		/* Wait for the peer's first byte before committing to TLS. */
		c->waiting_hello = 1;
		r = conn_ev_update(c, &c->net, EPOLLIN);
		if (r < 0) {
			return handshake_fail(c, -r, "epoll: %s", strerror(-r));
		}
		return CONN_LIVE;
	}
	return handshake_step(c);
}


/* Make the protected descriptor: the daemon's end in c->app, the caller's
 * in c->app_out until deliver() sends it. */
static int make_protected(struct conn *c, char *why, size_t whylen)
{
	int sv[2], tcp, r;

	/* A closed conn owns nothing any more: a pair made now would leak. */
	if (c->dead)
		return -EBADF;
	if (c->app.fd >= 0)
		return 0;
	r = appsock_pair(&c->w->pool, c->req.gen->conf, c->dtls, sv, &tcp, why, whylen);
	if (r < 0)
		return r;
	c->app.fd = sv[0];
	c->app_out = sv[1];
	c->app_tcp = (unsigned)tcp;
	return 0;
}

/* Hand the caller its protected descriptor and move on to relaying. */
static enum conn_status deliver(struct conn *c, const char *event, const char *detail)
{
	char why[TK_MESSAGE_MAX] = "";
	int r = reeval_late_check(c, why, sizeof(why));

	if (r < 0)
		return handshake_fail(c, -r, "%s", why);
	r = make_protected(c, why, sizeof(why));
	if (r < 0) {
		/* Failed means closed: nothing may be delivered (nor audited as
		 * established) after it. */
		if (r == -EAGAIN)
			return handshake_fail(c, EAGAIN, "%s", why);
		return handshake_fail(c, -r, "cannot make the protected descriptor: %s", why);
	}
	c->info = outcome_describe(c);
	if (c->info && registry_add(c->info, c->app_out) < 0) {
		free(c->info);
		c->info = NULL;
	}
	c->keep_ctl = ctlconn_keepable(c);
	outcome_send_result(c, 0, NULL, c->app_out);
	/* The caller has its own copy now (or is gone). */
	c->app_out = tk_close(c->app_out);
	outcome_audit(c, event, 0, detail);

	c->established = 1;
	c->t_estab_ms = tk_now_ms();
	/* The candidates (10.5 KiB) served the pick only: not kept per session. */
	vhost_free(c->req.vhost);
	c->req.vhost = NULL;
	/* The handshake slot is free: the caller and the relay take over;
	 * the control connection waits for the caller's next start. */
	ctlconn_park(c);
	conn_set_state(c, CONN_RELAY);
	return relay_begin(c);
}

/* map-user rules: the peer must correspond to an existing local account
 * (user: what the ACL mapped it to). */
static int map_user(struct conn *c, const char *user, char *why, size_t len)
{
	char buf[4096];
	struct passwd pw, *res = NULL;

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		(void)snprintf(why, len, "peer %s maps to %s, which is not a local account", c->peer, user);
		return -EACCES;
	}
	(void)snprintf(c->mapped_user, sizeof(c->mapped_user), "%s", user);
	return 0;
}

static enum conn_status finish(struct conn *c)
{
	const struct keyd_request *q = &c->req;
	const gnutls_datum_t *certs;
	unsigned n = 0;
	int r;
	char why[TK_MESSAGE_MAX] = "", user[TK_SHORT_MAX + 1] = "", note[TK_MESSAGE_MAX];
	struct keyd_peer_ids ids = { .n = 0 };

	certs = gnutls_certificate_get_peers(c->tls, &n);
	/* A resumed session skipped the verify callback: validate now. */
	c->resumed = gnutls_session_is_resumed(c->tls) != 0;
	if (c->resumed && (r = tickets_check_resumed(c, why, sizeof(why))) < 0)
		return handshake_fail(c, -r, "%s", why);
	if (c->cache_hit && certs && n > 0)
		goto checked;
	c->peer[0] = '\0';
	if (certs && n > 0) {
		gnutls_x509_crt_t crt;

		if (gnutls_x509_crt_init(&crt) < 0) {
			return handshake_fail(c, ENOMEM, "out of memory");
		}
		r = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
		if (r == 0 && q->msg.role == TK_ROLE_CLIENT && TK_HAS(&q->msg, TK_TAG_SNINAME)) {
			/* The hostname was verified against this name. */
			(void)snprintf(c->peer, sizeof(c->peer), "%s", q->msg.sniname);
		} else if (r == 0 && c->pinned) {
			/* A pin vouches for its name alone: the other names of a
			 * certificate its key's holder made are nobody's word. */
			r = trust_pin_name(q, crt, c->peer, sizeof(c->peer));
		} else if (r == 0) {
			r = keyd_identity_list(crt, keyd_conf_peer_cn(q->gen->conf, q->id), &ids);
		}
		gnutls_x509_crt_deinit(crt);
		if (r < 0) {
			return handshake_fail(c, EKEYREJECTED, "peer certificate names no usable identity");
		}
	} else if (!(q->msg.role == TK_ROLE_SERVER &&
		     (q->msg.flags & (TLSKEY_FLAG_NO_REQUIRE_PEER_CERT | TLSKEY_FLAG_NO_REQUEST_PEER_CERT)))) {
		return handshake_fail(c, EKEYREJECTED, "peer sent no certificate");
	}

	/* The decision is pure (authz.c); only the account lookup is I/O. */
	if (ids.n) {
		size_t i = 0;

		r = authz_peer_pick(q, &ids, &i, user, sizeof(user), why, sizeof(why));
		const char *id = ids.id[r == 0 ? i : 0];
		size_t l = strnlen(id, sizeof(ids.id[0]) - 1);

		memcpy(c->peer, id, l); /* id[] is 256 bytes, c->peer larger */
		c->peer[l] = '\0';
	} else {
		r = authz_peer(q, c->peer, user, sizeof(user), why, sizeof(why));
	}
	if (r < 0)
		return handshake_fail(c, -r, "%s", why);
	if (q->decision.map_user && map_user(c, user, why, sizeof(why)) < 0)
		return handshake_fail(c, EACCES, "%s", why);
	if (c->peer[0] && !(q->msg.flags & TLSKEY_FLAG_NO_CACHE_WRITE) &&
	    !(q->msg.flags & TLSKEY_FLAG_SKIP_AUTHORIZATION)) {
		struct vcache_value v = { .pinned = (uint8_t)(c->pinned != 0),
					  .dane_usage = (uint8_t)c->dane_usage };

		(void)snprintf(v.peer, sizeof(v.peer), "%s", c->peer);
		(void)snprintf(v.mapped_user, sizeof(v.mapped_user), "%s", c->mapped_user);
		vcache_put(c->req.gen->vcache, c->cache_key, &v);
	}
checked:
	r = alpn_session_check(c, why, sizeof(why));
	if (r < 0)
		return handshake_fail(c, -r, "%s", why);
	if (strlen(c->peer) + 1 > q->msg.peername_max) {
		return handshake_fail(c, ERANGE, "peer identity %s does not fit in %u bytes", c->peer,
			       q->msg.peername_max);
	}

	(void)snprintf(why, sizeof(why), "%s %s%s%s%s%s%s%s",
		       gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls)),
		       gnutls_cipher_get_name(gnutls_cipher_get(c->tls)),
		       c->alpn[0] ? " alpn=" : "", c->alpn,
		       c->resumed ? " resumed=yes" : "",
		       c->mapped_user[0] ? " mapped-user=" : "", c->mapped_user,
		       c->cache_hit ? " (cached validation)" : c->pinned ? " (pinned)"
		       : dane_usage_note(c->dane_usage));
	/* Online OCSP may first ask the responder (ocsp_online.c): the conn
	 * waits, its handshake timer running, and ocsp_conn.c delivers. */
	r = ocsp_online_start(c, why, note, sizeof(note));
	if (r < 0)
		return handshake_fail(c, -r, "%s", note);
	if (r == 1)
		return CONN_LIVE;
	(void)snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s", note);
	return deliver(c, "established", why);
}

enum conn_status handshake_deliver(struct conn *c, const char *detail)
{
	return deliver(c, "established", detail);
}

enum conn_status handshake_step(struct conn *c)
{
	char msg[TK_MESSAGE_MAX];
	struct worker_key *wk;
	int r, err;

	if (c->cookie_wait) {
		int hello;

		r = dtls_cookie_step(c, &hello);
		/* Only a ClientHello commits to DTLS (allow-handshake-timeout). */
		if (hello)
			c->waiting_hello = 0;
		if (r < 0)
			return handshake_fail(c, -r, "DTLS cookie exchange: %s", strerror(-r));
		if (r == 0) {
			r = conn_ev_update(c, &c->net, EPOLLIN);
			if (r < 0)
				return handshake_fail(c, -r, "epoll: %s", strerror(-r));
			return CONN_LIVE;
		}
		c->cookie_wait = 0;
	}
	c->waiting_hello = 0; /* the peer spoke: TLS it is */
	for (int i = 0, hold = 0; i < 16; i++) {
		size_t idx = c->req.id_index, before, after;
		unsigned long long signs = c->ks->keys[idx].signs;
		long long spent = c->ks->keys[idx].sign_us;

		relay_io_rx_begin(c);
		relay_io_rx_hold(c, hold);
		before = relay_io_rx_left(c);
		r = gnutls_handshake(c->tls);
		after = relay_io_rx_left(c);
		/* Bytes read ahead past this step (the peer's first
		 * application data, or a flight while the SNI verdict is
		 * awaited) are the session's own from now on. */
		if (relay_io_rx_end(c, 1) < 0)
			return handshake_fail(c, ENOMEM, "out of memory");
		/* GnuTLS says AGAIN after each record of a handshake message
		 * that spans several: if the next is already read ahead, no
		 * epoll event will come for it.  Go on with what is buffered,
		 * reading nothing more (hold: the socket's own bytes wake us
		 * as usual), for as long as each call takes some of it. */
		if (r == GNUTLS_E_AGAIN && after > 0 && (!hold || after < before)) {
			hold = 1;
			i--;
			continue;
		}
		/* The ClientHello may just have picked another identity. */
		if (c->req.id_index != idx) {
			signs = c->req.vhost->signs0;
			spent = c->req.vhost->sign_us0;
		}
		wk = &c->ks->keys[c->req.id_index];
		if (wk->signs != signs)
			c->sign_us = (c->sign_us < 0 ? 0 : c->sign_us) + (wk->sign_us - spent);
		if (r == 0)
			return finish(c);
		if (r == GNUTLS_E_AGAIN) {
			if (c->dtls)
				c->retransmit_ms = tk_now_ms() + gnutls_dtls_get_timeout(c->tls);
			/* A failed epoll registration closes c: making the
			 * protected descriptor then would leak both its ends. */
			if (set_net_interest(c) == CONN_CLOSED)
				return CONN_CLOSED;
			/* Our flight is out and the peer has work to do: make the
			 * protected descriptor now rather than after the last
			 * message (it is retried at delivery if this fails). */
			if (c->app.fd < 0) {
				char why[TK_MESSAGE_MAX];
				(void)make_protected(c, why, sizeof(why));
			}
			return CONN_LIVE;
		}
		if (r == GNUTLS_E_INTERRUPTED && c->sni == SNI_ASKED) {
			/* Waiting for the application's SNI verdict. */
			(void)conn_ev_update(c, &c->net, 0);
			return CONN_LIVE;
		}
		if (!gnutls_error_is_fatal(r))
			continue;
		break;
	}
	if (c->req.vhost && c->req.vhost->err) {
		const struct vhost_set *v = c->req.vhost;

		(void)gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, (gnutls_alert_description_t)v->alert);
		return fail_as(c, v->err == EACCES ? "acl-denied" : "handshake-failed", 0, v->err,
			       v->why);
	}
	err = explain(c, r, msg, sizeof(msg));
	if (c->req.msg.role == TK_ROLE_SERVER && c->hs_bytes_in == 0 &&
	    (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR)) {
		/* Connect and close (a load balancer's health check): not a
		 * failed handshake worth a warning. */
		return fail_as(c, "closed-before-hello", LOG_INFO, err,
			       "the peer closed the connection before its ClientHello");
	}
	/* Tell the peer why, as far as the socket lets us right now. */
	if (r != GNUTLS_E_FATAL_ALERT_RECEIVED && err != ECONNRESET)
		(void)gnutls_alert_send_appropriate(c->tls, r);
	return handshake_fail(c, err, "%s", msg);
}

enum conn_status handshake_ctl_event(struct conn *c, uint32_t events)
{
	struct tk_msg m;
	int fd = -1, r;

	r = (events & EPOLLIN) ? tk_msg_recv(c->ctl.fd, &m, &fd) : -ECONNRESET;
	if (r == -EAGAIN)
		return CONN_LIVE;
	if (r < 0 || fd >= 0 || m.type != TK_MSG_SNI_ANSWER || c->sni != SNI_ASKED) {
		(void)passclose(fd);
		keyd_log(LOG_INFO, "uid=%u pid=%d myname=%s: caller went away or misbehaved during handshake",
			 (unsigned)c->req.cred.uid, (int)c->req.cred.pid, c->req.msg.myname);
		if (c->tls)
			(void)gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_USER_CANCELED);
		(void)conn_ev_update(c, &c->ctl, 0);
		c->ctl.fd = passclose_ctl(c->ctl.fd);
		return handshake_fail(c, ECONNABORTED, "caller closed its request");
	}
	if (!m.accept) {
		c->sni = SNI_REFUSED;
		(void)gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_UNRECOGNIZED_NAME);
		return handshake_fail(c, EHOSTUNREACH, "server name refused by the application");
	}
	c->sni = SNI_ACCEPTED;
	return handshake_step(c);
}

enum conn_status handshake_timeout(struct conn *c)
{
	if (c->waiting_hello && !(c->req.msg.flags & TLSKEY_FLAG_SKIP_AUTHORIZATION) &&
	    acl_decision_restricts_peers(&c->req.decision)) {
		/* No handshake, so no peer identity: the same refusal as for a
		 * TLS peer without a certificate (finish()). */
		c->waiting_hello = 0;
		return handshake_fail(c, EACCES, "no handshake from the peer, but %s admits only certain "
			       "peers (peers= or map-user)", c->req.decision.where);
	}
	if (c->waiting_hello) {
		/* The peer never started a handshake: keep the connection in
		 * cleartext, as the caller asked (allow-handshake-timeout). */
		c->waiting_hello = 0;
		gnutls_deinit(c->tls);
		c->tls = NULL;
		return deliver(c, "cleartext", "no handshake from the peer before the timer");
	}

	/* Reset rather than close politely: the peer missed its chance. */
	c->net_reset = 1;
	if (c->cookie_wait) {
		/* Nothing was signed: a forged address never answers. */
		char why[128];

		(void)snprintf(why, sizeof(why), "handshake timer expired: %s",
			       c->cookies_sent ? "no ClientHello returned our DTLS cookie"
					       : "no DTLS ClientHello arrived");
		outcome_audit(c, "handshake-failed", ETIMEDOUT, why);
		outcome_send_result(c, ETIMEDOUT, why, -1);
		return conn_close(c, ETIMEDOUT, why);
	}
	if (c->tls)
		keyd_log(LOG_DEBUG, "uid=%u pid=%d myname=%s: handshake timer expired: last message sent %s, "
			 "last received %s%s", (unsigned)c->req.cred.uid, (int)c->req.cred.pid,
			 c->req.msg.myname,
			 gnutls_handshake_description_get_name(gnutls_handshake_get_last_out(c->tls)),
			 gnutls_handshake_description_get_name(gnutls_handshake_get_last_in(c->tls)),
			 c->dtls ? " (DTLS)" : "");
	outcome_audit(c, "handshake-failed", ETIMEDOUT, "handshake timer expired");
	outcome_send_result(c, ETIMEDOUT, "handshake timer expired", -1);
	return conn_close(c, ETIMEDOUT, "handshake timer expired");
}
