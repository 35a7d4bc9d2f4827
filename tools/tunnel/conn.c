/* One tunnelled connection, as a small state machine driven by the single
 * epoll loop in main.c:
 *
 *   server mode: accepted TCP socket -> tlskey_starttls(server, non-blocking)
 *                -> HANDSHAKE (pending descriptor readable) -> tlskey_finish()
 *                -> CONNECTING to the backend -> RELAY      (or --exec: CHILD)
 *   client mode: accepted plaintext socket -> CONNECTING to --connect
 *                -> tlskey_starttls(client, non-blocking) -> HANDSHAKE
 *                -> RELAY
 *
 * Side 0 (SIDE_TLS) is the descriptor towards tlskeyd: the outgoing TCP
 * socket while connecting (client mode), then the pending descriptor,
 * then the protected descriptor.  Side 1 (SIDE_PLAIN) is the backend
 * (server mode) or the local plaintext client (client mode).
 *
 * The bytes in RELAY are relay.c's.  Every connection ends in exactly one
 * log line (tunnel_conn_end). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "tools/tunnel/conn.h"
#include "tools/tunnel/tunnel.h"

/* Without --timeout: how long an outgoing connect may take, and a guard
 * against a daemon that never answers (its own handshake-timeout should
 * always fire first). */
#define CONNECT_TIMEOUT_DEFAULT_MS 10000u
#define HANDSHAKE_GUARD_DEFAULT_MS 120000u
#define HANDSHAKE_GUARD_EXTRA_MS 5000u

/* "ECONNRESET" for the log line; glibc knows every name (2.32+), and an
 * errno it does not know still gets a stable token. */
static const char *errno_name(int e, char *buf, size_t len)
{
	const char *name = strerrorname_np(e);

	if (name)
		return name;
	(void)snprintf(buf, len, "errno%d", e);
	return buf;
}

/* Copy `s` for a log line: no control characters, no double quotes, so a
 * daemon message can never forge or split a line. */
static void log_clean(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = (ch < ' ' || ch == 0x7f || ch == '"') ? '?' : (char)ch;
	}
	while (i > 0 && out[i - 1] == ' ')
		i--;
	out[i] = '\0';
}

/* With `reset`, a TCP peer gets a reset instead of a FIN: the error on one
 * side (a truncated or reset TLS stream, a backend that failed) reaches
 * the other as ECONNRESET, never as a clean end of stream. */
static void ep_close(struct tunnel *t, struct tunnel_ep *ep, int reset)
{
	if (ep->fd < 0)
		return;
	(void)tunnel_ep_set(t, ep, 0);
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		(void)setsockopt(ep->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	(void)close(ep->fd);
	ep->fd = -1;
}

/* Contract in conn.h; so is tunnel_conn_end_sides(). */
void tunnel_conn_end(struct tunnel_conn *c, const char *end, int err, const char *why)
{
	tunnel_conn_end_sides(c, end, err, why, err != 0, err != 0);
}

void tunnel_conn_end_sides(struct tunnel_conn *c, const char *end, int err, const char *why, int reset_tls,
			   int reset_plain)
{
	struct tunnel *t = c->t;
	char ename[24], clean[600], extra[700] = "";
	uint64_t ms = tunnel_now_ms() - c->start_ms;

	if (c->state == CS_DEAD)
		return;
	if (err) {
		log_clean(why && *why ? why : strerror(err), clean, sizeof(clean));
		(void)snprintf(extra, sizeof(extra), " errno=%s reason=\"%s\"",
			       errno_name(err, ename, sizeof(ename)), clean);
	}
	if (c->state == CS_CHILD)
		tunnel_log("conn=%lu remote=%s peer=%s local=%s rx=- tx=- ms=%llu end=%s%s", c->id,
			   c->remote_text, c->peer[0] ? c->peer : "-", c->local_id[0] ? c->local_id : c->myname,
			   (unsigned long long)ms, end, extra);
	else
		tunnel_log("conn=%lu remote=%s peer=%s local=%s rx=%llu tx=%llu ms=%llu end=%s%s", c->id,
			   c->remote_text, c->peer[0] ? c->peer : "-", c->local_id[0] ? c->local_id : c->myname,
			   (unsigned long long)c->bytes[SIDE_TLS], (unsigned long long)c->bytes[SIDE_PLAIN],
			   (unsigned long long)ms, end, extra);
	ep_close(t, &c->ep[SIDE_TLS], reset_tls);
	ep_close(t, &c->ep[SIDE_PLAIN], reset_plain);
	c->state = CS_DEAD;

	/* Unlink from the live list, park on the dead list. */
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = t->dead;
	t->dead = c;

	t->nconns--;
	if (c->src_counted)
		tunnel_sources_del(&t->sources, &c->src);
	c->src_counted = 0;
	/* A slot is free again: resume accepting if max-conns had paused it. */
	if (!t->stopping && t->listen_ep.fd >= 0 && t->nconns < t->conf->max_conns)
		(void)tunnel_ep_set(t, &t->listen_ep, EPOLLIN);
}

void tunnel_conn_reap(struct tunnel *t)
{
	while (t->dead) {
		struct tunnel_conn *c = t->dead;

		t->dead = c->next;
		free(c->buf[0].data); /* one allocation for both buffers */
		free(c);
	}
}

static uint64_t handshake_guard_ms(const struct tunnel_conf *conf)
{
	return conf->timeout_ms ? (uint64_t)conf->timeout_ms + HANDSHAKE_GUARD_EXTRA_MS
				: HANDSHAKE_GUARD_DEFAULT_MS;
}

/* --sni-allow: the checksni_ctx callback; ctx is the connection being
 * finished, which also records the refused name for its log line. */
static int sni_check(void *ctx, const char *name, size_t len)
{
	struct tunnel_conn *c = ctx;

	(void)len; /* name is NUL-terminated */
	/* A SIGHUP since the start may have removed --sni-allow: then any
	 * name is allowed, as for a connection started now. */
	if (c->t->conf->n_sni_allow == 0 || tunnel_sni_allowed(c->t->conf, name))
		return 1;
	(void)snprintf(c->sni_refused, sizeof(c->sni_refused), "%s", name[0] ? name : "(none)");
	return 0;
}

/* Hand `fd` (consumed) to tlskeyd with a non-blocking start; the pending
 * descriptor goes to the TLS side. */
static void conn_starttls(struct tunnel_conn *c, int fd)
{
	const struct tunnel_conf *conf = c->t->conf;
	struct tlskey_options o;
	int role = conf->mode == TUNNEL_MODE_SERVER ? TLSKEY_ROLE_SERVER : TLSKEY_ROLE_CLIENT;
	const char *alpn[TUNNEL_ALPN_MAX];
	int pending, r;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	for (unsigned i = 0; i < conf->n_alpn; i++)
		alpn[i] = conf->alpn[i];
	if (conf->n_alpn) {
		/* Only read during the call. */
		o.alpn = alpn;
		o.n_alpn = conf->n_alpn;
		o.alpn_strict = conf->alpn_strict;
	}
	o.handshake_timeout_ms = conf->timeout_ms;
	o.nonblocking = 1;
	if (role == TLSKEY_ROLE_CLIENT && conf->sni[0])
		o.sniname = conf->sni;
	if (role == TLSKEY_ROLE_SERVER && conf->n_sni_allow) {
		/* Non-blocking: this only tells tlskeyd to ask; on_handshake()
		 * passes the callback and c again to tlskey_finish_sni_ctx(). */
		o.checksni_ctx = sni_check;
		o.checksni_arg = c;
		c->checksni = 1;
	}
	pending = tlskey_starttls(fd, IPPROTO_TCP, role, c->myname, conf->flags, &o, NULL, 0);
	/* fd is consumed by tlskey_starttls() in every case. */
	if (pending < 0) {
		tunnel_conn_end(c, "handshake-failed", errno, tlskey_last_error());
		return;
	}
	c->ep[SIDE_TLS].fd = pending; /* owned by c */
	c->state = CS_HANDSHAKE;
	c->deadline_ms = tunnel_now_ms() + handshake_guard_ms(conf);
	r = tunnel_ep_set(c->t, &c->ep[SIDE_TLS], EPOLLIN);
	if (r < 0)
		tunnel_conn_end(c, "error", -r, NULL);
}

/* Begin a non-blocking connect to `to`; the socket goes to side `side`.
 * Returns 1 if connected at once, 0 if in progress, or a negative errno. */
static int conn_connect(struct tunnel_conn *c, int side, const struct tunnel_addr *to)
{
	const struct tunnel_conf *conf = c->t->conf;
	int fd, r;

	fd = socket(to->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	c->ep[side].fd = fd; /* owned by c */
	if (connect(fd, (const struct sockaddr *)&to->ss, to->len) == 0)
		return 1;
	/* A UNIX socket with a full backlog says EAGAIN: a busy backend. */
	if (errno != EINPROGRESS)
		return -errno;
	c->state = CS_CONNECTING;
	c->deadline_ms = tunnel_now_ms() + (conf->timeout_ms ? conf->timeout_ms : CONNECT_TIMEOUT_DEFAULT_MS);
	r = tunnel_ep_set(c->t, &c->ep[side], EPOLLOUT);
	return r < 0 ? r : 0;
}

/* Server mode, handshake done: run the --exec child or connect the backend. */
static void server_after_handshake(struct tunnel_conn *c)
{
	const struct tunnel_conf *conf = c->t->conf;
	int pfd = c->ep[SIDE_TLS].fd, r;

	if (conf->exec_argv[0]) {
		pid_t pid;

		r = tunnel_spawn(conf, pfd, c->peer, c->local_id[0] ? c->local_id : c->myname,
				 (struct sockaddr *)&c->remote, c->remote_len, &pid);
		if (r < 0) {
			tunnel_conn_end(c, "spawn-failed", -r, NULL);
			return;
		}
		/* The child has its own copies on 0 and 1. */
		ep_close(c->t, &c->ep[SIDE_TLS], 0);
		c->child = pid;
		c->state = CS_CHILD;
		c->deadline_ms = 0;
		return;
	}
	r = conn_connect(c, SIDE_PLAIN, &conf->backend);
	if (r < 0)
		tunnel_conn_end(c, "backend-failed", -r, NULL);
	else if (r == 1)
		tunnel_relay_start(c);
}

static void on_handshake(struct tunnel_conn *c)
{
	int pending = c->ep[SIDE_TLS].fd, pfd;

	(void)tunnel_ep_set(c->t, &c->ep[SIDE_TLS], 0);
	/* What the start chose, not what the configuration says now: tlskeyd
	 * asks about the name exactly when the start said so, and
	 * tlskey_finish() fails with EINVAL on a question it cannot answer. */
	if (c->checksni) {
		pfd = tlskey_finish_sni_ctx(pending, sni_check, c, c->peer, sizeof(c->peer));
		if (pfd < 0 && errno == EINPROGRESS) {
			/* Question answered; wait for the result. */
			int r = tunnel_ep_set(c->t, &c->ep[SIDE_TLS], EPOLLIN);
			if (r < 0)
				tunnel_conn_end(c, "error", -r, NULL);
			return;
		}
	} else {
		pfd = tlskey_finish(pending, c->peer, sizeof(c->peer));
	}
	/* pending has been consumed. */
	c->ep[SIDE_TLS].fd = -1;
	if (pfd < 0) {
		int err = errno;
		char why[TUNNEL_NAME_MAX + 64];

		c->peer[0] = '\0';
		if (c->sni_refused[0]) {
			(void)snprintf(why, sizeof(why), "server name %s is not in --sni-allow",
				       c->sni_refused);
			tunnel_conn_end(c, "handshake-failed", err, why);
		} else {
			tunnel_conn_end(c, "handshake-failed", err, tlskey_last_error());
		}
		return;
	}
	c->ep[SIDE_TLS].fd = pfd; /* the protected descriptor, owned by c */
	if (c->myname_list) {
		/* A list: the log names the identity the client's SNI chose. */
		struct tlskey_info *info = calloc(1, sizeof(*info));

		if (info && tlskey_query(pfd, info) == 0)
			(void)snprintf(c->local_id, sizeof(c->local_id), "%s", info->local);
		free(info);
	}
	if (c->t->conf->mode == TUNNEL_MODE_SERVER)
		server_after_handshake(c);
	else
		tunnel_relay_start(c);
}

static void on_connected(struct tunnel_conn *c, int side)
{
	int err = 0, fd = c->ep[side].fd;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		tunnel_conn_end(c, side == SIDE_PLAIN ? "backend-failed" : "connect-failed", err, NULL);
		return;
	}
	(void)tunnel_ep_set(c->t, &c->ep[side], 0);
	if (side == SIDE_PLAIN) {
		tunnel_relay_start(c);
		return;
	}
	/* Client mode: the outgoing socket is connected; tlskeyd takes it. */
	c->ep[SIDE_TLS].fd = -1;
	conn_starttls(c, fd);
}

/* ---- entry points from main.c ----------------------------------------- */

void tunnel_conn_event(struct tunnel *t, void *ptr, uint32_t events)
{
	struct tunnel_ep *ep = ptr;
	struct tunnel_conn *c = ep->conn;
	int side = ep == &c->ep[SIDE_TLS] ? SIDE_TLS : SIDE_PLAIN;

	(void)t;
	switch (c->state) {
	case CS_CONNECTING:
		on_connected(c, side);
		break;
	case CS_HANDSHAKE:
		on_handshake(c);
		break;
	case CS_RELAY:
		tunnel_relay_event(c, side, events);
		break;
	default:
		/* Ended earlier in this batch, or a child: nothing to do. */
		break;
	}
}

/* Over --max-conns-per-source: the connection is reset at once, before
 * anything is read from it or handed to tlskeyd, so that one source
 * holding silent connections cannot take every slot.  One log line a
 * minute at most, with how many were refused since the last one. */
static void refuse_source(struct tunnel *t, int fd, const struct sockaddr *remote, socklen_t remote_len,
			  unsigned cap)
{
	static const struct linger rst = { 1, 0 };
	static uint64_t last;
	uint64_t now = tunnel_now_ms();

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	(void)close(fd);
	t->refused_per_source++;
	if (!last || now - last >= 60000) {
		char text[TUNNEL_ADDR_TEXT_MAX];

		tunnel_addr_format(remote, remote_len, text, sizeof(text));
		tunnel_log("max-conns-per-source %u reached for %s: connection reset (%lu refused "
			   "since the last such line)", cap, text, t->refused_per_source);
		t->refused_per_source = 0;
		last = now;
	}
}

int tunnel_conn_start(struct tunnel *t, int fd, const struct sockaddr *remote, socklen_t remote_len,
		      const struct sockaddr *local, socklen_t local_len)
{
	struct tunnel_source_key src = { 0 };
	unsigned cap = tunnel_conf_per_source(t->conf);
	/* Counted with or without a cap, so that a SIGHUP that sets one
	 * judges the next connections by what each source already holds. */
	int keyed = tunnel_source_key(remote, remote_len, &src) == 0;
	struct tunnel_conn *c;
	int r;

	if (keyed && cap && tunnel_sources_count(&t->sources, &src) >= cap) {
		refuse_source(t, fd, remote, remote_len, cap);
		return -EUSERS;
	}
	c = calloc(1, sizeof(*c));
	if (c && keyed && tunnel_sources_add(&t->sources, &src) < 0) {
		free(c);
		c = NULL;
	}
	if (!c) {
		tunnel_log("conn=%lu end=error errno=ENOMEM", ++t->next_id);
		(void)close(fd);
		return -ENOMEM;
	}
	c->t = t;
	c->id = ++t->next_id;
	memcpy(c->myname, t->conf->myname, sizeof(c->myname));
	c->myname_list = strchr(c->myname, ',') || strchr(c->myname, '*');
	c->start_ms = tunnel_now_ms();
	c->src = src;
	c->src_counted = keyed;
	for (int i = 0; i < 2; i++) {
		c->ep[i].kind = TUNNEL_EP_CONN;
		c->ep[i].fd = -1;
		c->ep[i].conn = c;
	}
	if (remote_len > sizeof(c->remote))
		remote_len = sizeof(c->remote);
	if (local_len > sizeof(c->local))
		local_len = sizeof(c->local);
	memcpy(&c->remote, remote, remote_len);
	c->remote_len = remote_len;
	memcpy(&c->local, local, local_len);
	c->local_len = local_len;
	tunnel_addr_format(remote, remote_len, c->remote_text, sizeof(c->remote_text));
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->nconns++;

	if (t->conf->mode == TUNNEL_MODE_SERVER) {
		conn_starttls(c, fd);
		return 0;
	}
	c->ep[SIDE_PLAIN].fd = fd; /* the local plaintext client, owned by c */
	r = conn_connect(c, SIDE_TLS, &t->conf->connect);
	if (r < 0) {
		tunnel_conn_end(c, "connect-failed", -r, NULL);
		return 0;
	}
	if (r == 1) {
		int s = c->ep[SIDE_TLS].fd;

		c->ep[SIDE_TLS].fd = -1;
		conn_starttls(c, s);
	}
	return 0;
}

int tunnel_conn_expire(struct tunnel *t, uint64_t now_ms)
{
	uint64_t next = 0;
	struct tunnel_conn *c, *n;

	for (c = t->conns; c; c = n) {
		n = c->next;
		if (!c->deadline_ms)
			continue;
		if (c->deadline_ms <= now_ms) {
			if (c->state == CS_RELAY)
				tunnel_conn_end(c, "idle-timeout", ETIMEDOUT, "no data in either direction");
			else
				tunnel_conn_end(c, "timeout", ETIMEDOUT,
					 c->state == CS_CONNECTING ? "connect timed out"
								   : "no answer from tlskeyd in time");
			continue;
		}
		if (!next || c->deadline_ms < next)
			next = c->deadline_ms;
	}
	if (!next)
		return -1;
	return next - now_ms > 60000 ? 60000 : (int)(next - now_ms);
}

int tunnel_conn_child_exited(struct tunnel *t, pid_t pid, int status)
{
	char end[32];

	for (struct tunnel_conn *c = t->conns; c; c = c->next) {
		if (c->state != CS_CHILD || c->child != pid)
			continue;
		if (WIFEXITED(status))
			(void)snprintf(end, sizeof(end), "exit:%d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			(void)snprintf(end, sizeof(end), "signal:%d", WTERMSIG(status));
		else
			(void)snprintf(end, sizeof(end), "status:%d", status);
		tunnel_conn_end(c, end, 0, NULL);
		return 0;
	}
	return -ESRCH;
}

void tunnel_conn_reload(struct tunnel *t)
{
	for (struct tunnel_conn *c = t->conns; c; c = c->next)
		if (c->state == CS_RELAY)
			tunnel_relay_rearm(c);
}

unsigned tunnel_conn_shutdown_all(struct tunnel *t)
{
	struct tunnel_conn *c, *n;
	unsigned children = 0;

	for (c = t->conns; c; c = n) {
		n = c->next;
		if (c->state == CS_CHILD) {
			(void)kill(c->child, SIGTERM);
			children++;
			continue;
		}
		/* A cut stream, a handshake or a connect in progress: both sides
		 * are reset, so the TLS peer sees no close_notify (tlskeyd ends
		 * its connection without one) and the plaintext side reads
		 * ECONNRESET, never a clean end.  Each direction is judged on
		 * its own: the stream to the TLS peer ends cleanly only if the
		 * plaintext side's end went out to it, the one to the plaintext
		 * side only if the peer's did (a response still arriving after
		 * the app's request and half-close is cut, say). */
		if (tunnel_relay_finished(c) && c->wr_shut[SIDE_PLAIN])
			tunnel_conn_end(c, "shutdown", 0, NULL);
		else if (tunnel_relay_finished(c))
			tunnel_conn_end_sides(c, "shutdown", ECONNABORTED,
				       "the peer's stream cut short by SIGTERM: the plaintext side reset", 0, 1);
		else
			tunnel_conn_end(c, "shutdown", ECONNABORTED, "cut short by SIGTERM: both sides reset");
	}
	return children;
}

void tunnel_conn_kill_children(struct tunnel *t)
{
	for (struct tunnel_conn *c = t->conns; c; c = c->next)
		if (c->state == CS_CHILD)
			(void)kill(c->child, SIGKILL);
}
