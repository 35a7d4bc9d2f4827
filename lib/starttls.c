/* libtlskey: hand a socket to tlskeyd and get a protected descriptor back.
 * This is the untrusted caller side: it validates what it can early for
 * clear errors, but the daemon re-checks everything. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/namelist.h"
#include "common/util.h"
#include "common/wire.h"
#include "lib/alpn.h"
#include "lib/client.h"
#include "tlskey/starttls.h"

/* A TLS 1.3 HelloRetryRequest can make GnuTLS look at the SNI twice; more
 * queries than this means a confused or hostile daemon. */
#define MAX_SNI_QUERIES 4

static int check_args(int fd, int proto, const char *myname, int flags, int role)
{
	const int server_only = TLSKEY_FLAG_NO_REQUIRE_PEER_CERT | TLSKEY_FLAG_NO_REQUEST_PEER_CERT;
	const int client_only = TLSKEY_FLAG_NO_LOCAL_CERT;

	if (fd < 0) {
		lib_set_error("invalid file descriptor %d", fd);
		return -EBADF;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		lib_set_error("unsupported protocol %d (use IPPROTO_TCP or IPPROTO_UDP)", proto);
		return -EPROTONOSUPPORT;
	}
	if (myname && tk_namelist_is_multi(myname)) {
		/* A list or pattern: the daemon picks by SNI, server role only. */
		if (role != TK_ROLE_SERVER || tk_namelist_validate(myname) < 0) {
			lib_set_error(role != TK_ROLE_SERVER ? "a list of local names needs the server role"
							 : "invalid list of local names");
			return -EINVAL;
		}
	} else if (!myname || tk_name_validate(myname, strlen(myname)) < 0) {
		lib_set_error("invalid local identity name");
		return -EINVAL;
	}
	if (flags & ~TLSKEY_FLAGS_ALL) {
		lib_set_error("unknown flag bits 0x%x", (unsigned)(flags & ~TLSKEY_FLAGS_ALL));
		return -EINVAL;
	}
	if (role == TK_ROLE_CLIENT && (flags & server_only)) {
		lib_set_error("flags 0x%x are for the server role only", (unsigned)(flags & server_only));
		return -EINVAL;
	}
	if (role == TK_ROLE_SERVER && (flags & client_only)) {
		lib_set_error("flags 0x%x are for the client role only", (unsigned)(flags & client_only));
		return -EINVAL;
	}
	return 0;
}

/* Our request could not be sent because the daemon had already closed the
 * connection: it turns clients away at accept time (too many waiting
 * clients) before their request arrives, answering first.  That answer is
 * queued on sock: report it rather than the broken pipe.  Returns a
 * negative errno; last_error is set. */
static int refused_early(int sock, int send_err)
{
	struct tk_msg *m = malloc(sizeof(*m));
	int newfd = -1, r = send_err;

	lib_set_error("sending request to tlskeyd: %s", strerror(-send_err));
	if (!m)
		return r;
	/* The daemon's end is closed: the answer, if any, is queued.  Only
	 * then is it read: a peer that shut its reading side and stays (no
	 * daemon does) would else hold this receive forever. */
	if (poll(&(struct pollfd){ .fd = sock, .events = POLLIN }, 1, 0) == 1 &&
	    tk_msg_recv(sock, m, &newfd) == 0 && m->type == TK_MSG_RESULT && m->err != 0) {
		lib_set_error("%s", TK_HAS(m, TK_TAG_MESSAGE) ? m->message : strerror((int)m->err));
		r = m->err < 4096 ? -(int)m->err : -EPROTO;
	}
	(void)tk_close(newfd);
	free(m);
	return r;
}

/* The server name callback of a start: the seed's checksni(char *) or the
 * one with a context pointer; at most one is set, neither means none. */
struct sni_cb {
	int (*plain)(char *);
	int (*ctx)(void *, const char *, size_t);
	void *arg;
};

static int sni_cb_set(const struct sni_cb *cb)
{
	return cb->plain || cb->ctx;
}

/* Ask the callback about name (NUL-terminated, at most TK_NAME_MAX bytes). */
static int sni_cb_call(const struct sni_cb *cb, const char *name)
{
	char copy[TK_NAME_MAX + 1];
	size_t n = strnlen(name, TK_NAME_MAX);

	if (cb->ctx)
		return cb->ctx(cb->arg, name, n);
	/* The seed's callback takes char * and may scribble on it. */
	memcpy(copy, name, n);
	copy[n] = '\0';
	return cb->plain(copy);
}

/* Wait for the daemon's verdict on an already sent request, answering SNI
 * queries with cb, for at most budget ms in all (0: no bound; then
 * -ETIMEDOUT).  Consumes sock, except that with `one_step` it returns
 * -EINPROGRESS after answering a query, leaving sock open.  Returns the
 * protected fd or a negative errno; last_error is set. */
/* A blocking start on a connection that may be kept (ctlpool.c): may_keep
 * in; kept when the daemon said it keeps the connection (sock is then
 * left open for the pool), unanswered when the daemon closed it before
 * any answer (a kept connection it had closed: try a new one). */
struct await_keep {
	int may_keep, kept, unanswered;
};

static int await_result(int sock, const struct sni_cb *cb, int one_step, unsigned budget, char *peername,
			size_t peername_len, char *alpn, size_t alpn_len, struct await_keep *kp)
{
	unsigned long long deadline = lib_wait_deadline(budget);
	char why[TK_MESSAGE_MAX + 1] = "";
	/* On the heap: a message is 12 KiB, and an app may start sessions
	 * from threads with small stacks. */
	struct tk_msg *m = malloc(sizeof(*m));
	int newfd = -1, r, queries = 0;

	if (!m) {
		lib_set_error("out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		/* One bound for the whole wait, SNI queries included: a daemon
		 * that accepts and never answers must not hold us forever. */
		r = lib_wait_readable(sock, deadline, budget);
		if (r < 0)
			goto out;
		r = tk_msg_recv(sock, m, &newfd);
		if (r == -ECONNRESET) {
			lib_set_error("tlskeyd closed the connection");
			if (kp && queries == 0)
				kp->unanswered = 1;
			goto out;
		}
		if (r < 0) {
			lib_set_error("bad answer from tlskeyd: %s", strerror(-r));
			goto out;
		}
		if (m->type == TK_MSG_SNI_QUERY && newfd < 0 && !sni_cb_set(cb)) {
			lib_set_error("tlskeyd asks about the client's server name: finish this start "
				  "with tlskey_finish_sni() or tlskey_finish_sni_ctx()");
			r = -EINVAL;
			goto out;
		}
		if (m->type == TK_MSG_SNI_QUERY && newfd < 0 && ++queries <= MAX_SNI_QUERIES) {
			/* The answer goes in the query's place. */
			uint8_t accept = sni_cb_call(cb, m->sniname) ? 1 : 0;

			memset(m, 0, sizeof(*m));
			m->type = TK_MSG_SNI_ANSWER;
			m->accept = accept;
			m->present = 1u << TK_TAG_ACCEPT;
			r = lib_send(sock, m, -1, NULL);
			if (r < 0) {
				lib_set_error("answering SNI query: %s", strerror(-r));
				goto out;
			}
			if (one_step) {
				lib_set_error("handshake in progress");
				free(m);
				return -EINPROGRESS;
			}
			continue;
		}
		if (m->type != TK_MSG_RESULT) {
			newfd = tk_close(newfd);
			lib_set_error("unexpected message type %u from tlskeyd", m->type);
			r = -EBADMSG;
			goto out;
		}
		break;
	}

	if (m->err != 0) {
		newfd = tk_close(newfd);
		lib_set_error("%s", TK_HAS(m, TK_TAG_MESSAGE) ? m->message : strerror((int)m->err));
		r = m->err < 4096 ? -(int)m->err : -EPROTO;
		/* EINPROGRESS means "answered, keep waiting" to our caller. */
		if (one_step && r == -EINPROGRESS)
			r = -EPROTO;
		goto out;
	}
	if (newfd < 0) {
		lib_set_error("tlskeyd reported success without a descriptor");
		r = -EBADMSG;
		goto out;
	}
	if (peername) {
		size_t n = strlen(m->peername);

		if (n + 1 > peername_len) {
			/* The daemon checks this too; never truncate. */
			newfd = tk_close(newfd);
			lib_set_error("peer identity needs %zu bytes, buffer has %zu", n + 1, peername_len);
			r = -ERANGE;
			goto out;
		}
		memcpy(peername, m->peername, n + 1);
	}
	r = lib_alpn_result(m, alpn, alpn_len, why, sizeof(why));
	if (r < 0) {
		lib_set_error("%s", why);
		newfd = tk_close(newfd);
		goto out;
	}
	lib_error_clear();
	r = newfd;
	if (kp && kp->may_keep && TK_HAS(m, TK_TAG_KEEP) && m->keep == 1) {
		kp->kept = 1;
		free(m);
		return r; /* sock stays open, for the next start */
	}
out:
	free(m);
	(void)tk_close(sock);
	return r;
}

/* Send start with *fd to the daemon and, unless non-blocking, wait for its
 * verdict.  A blocking start takes a control connection the daemon kept
 * (ctlpool.c) if there is one, and keeps *fd until the answer: if that
 * connection turns out closed unread (the daemon restarted, or let it go
 * idle), the start goes on the next kept one or a new one.  Returns the protected
 * descriptor (non-blocking: the pending one) or a negative errno; *fd is
 * closed (-1) once the daemon has it, left to the caller otherwise. */
static int start_send(const struct tk_msg *start, const struct tlskey_options *o,
		      const struct sni_cb *cb, unsigned budget, int *fd, char *peername,
		      size_t peername_len)
{
	const char *path = lib_daemon_path();
	struct lib_self self;

	for (;;) {
		struct await_keep kp = { .may_keep = !o->nonblocking };
		int sock = o->nonblocking ? -1 : lib_ctlpool_take(path, &self);
		int reused = sock >= 0, r;

		if (sock < 0) {
			r = lib_daemon_connect(&sock, budget);
			if (r < 0)
				return r;
			if (!o->nonblocking)
				lib_ctlpool_recheck(&self);
		}
		r = lib_send(sock, start, *fd, o->nonblocking ? NULL : &self);
		if ((r == -EPIPE || r == -ECONNRESET) && reused) {
			(void)tk_close(sock); /* closed by the daemon meanwhile */
			continue;
		}
		if (r == -EPIPE || r == -ECONNRESET) {
			r = refused_early(sock, r);
			(void)tk_close(sock);
			return r;
		}
		if (r < 0) {
			lib_set_error("sending request to tlskeyd: %s", strerror(-r));
			(void)tk_close(sock);
			return r;
		}
		/* The daemon holds its own reference now; ours is no longer
		 * needed, unless this connection may have been closed unread. */
		if (!reused)
			*fd = tk_close(*fd);
		if (o->nonblocking)
			return sock; /* the caller polls it: the pending descriptor */
		r = await_result(sock, cb, 0, budget, peername, peername_len, o->alpn_selected,
				 o->alpn_selected_len, &kp);
		if (kp.kept)
			lib_ctlpool_give(sock, &self);
		if (r < 0 && kp.unanswered && reused)
			continue; /* never read: *fd is still ours, untouched */
		/* Read by the daemon: it has the socket, ours just goes. */
		*fd = tk_close(*fd);
		return r;
	}
}

static int starttls_common(int fd, int proto, const char *myname, int flags, int role,
			   const struct tlskey_options *opt, char *peername, size_t peername_len)
{
	struct tk_msg *start = NULL; /* 12 KiB: on the heap (small thread stacks) */
	struct tlskey_options o;
	struct sni_cb cb;
	unsigned budget;
	int r;

	lib_error_clear();
	memset(&o, 0, sizeof(o));
	if (opt)
		memcpy(&o, opt, opt->size < sizeof(o) ? opt->size : sizeof(o));
	r = check_args(fd, proto, myname, flags, role);
	if (r < 0)
		goto out;
	r = -EINVAL;
	if (role == TK_ROLE_CLIENT && o.sniname && tk_name_validate(o.sniname, strlen(o.sniname)) < 0) {
		lib_set_error("invalid server name indication");
		goto out;
	}
	cb = (struct sni_cb){ .plain = o.checksni, .ctx = o.checksni_ctx, .arg = o.checksni_arg };
	if ((role == TK_ROLE_CLIENT && sni_cb_set(&cb)) || (role == TK_ROLE_SERVER && o.sniname)) {
		lib_set_error("sniname is for the client role, checksni for the server role");
		goto out;
	}
	if (cb.plain && cb.ctx) {
		lib_set_error("checksni and checksni_ctx are exclusive");
		goto out;
	}
	if (o.allow_handshake_timeout && (role != TK_ROLE_SERVER || o.handshake_timeout_ms == 0)) {
		lib_set_error("allow_handshake_timeout needs the server role and a handshake timer");
		goto out;
	}
	start = calloc(1, sizeof(*start));
	if (!start) {
		lib_set_error("out of memory");
		r = -ENOMEM;
		goto out;
	}
	start->type = TK_MSG_START;
	start->role = (uint8_t)role;
	start->proto = (uint8_t)proto;
	start->flags = (uint32_t)flags;
	start->checksni = sni_cb_set(&cb) ? 1 : 0;
	start->timeout_ms = o.handshake_timeout_ms;
	start->allow_hs_timeout = o.allow_handshake_timeout ? 1 : 0;
	start->peername_max = (peername && !o.nonblocking)
				     ? (peername_len > UINT32_MAX ? UINT32_MAX : (uint32_t)peername_len)
				     : UINT32_MAX;
	start->present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_PROTO) | (1u << TK_TAG_FLAGS) |
			(1u << TK_TAG_CHECKSNI) | (1u << TK_TAG_PEERNAME_MAX) |
			(1u << TK_TAG_TIMEOUT_MS) | (1u << TK_TAG_ALLOW_HS_TIMEOUT);
	{
		char why[TK_MESSAGE_MAX + 1] = "";

		r = lib_alpn_request(&o, proto, start, why, sizeof(why));
		if (r < 0) {
			lib_set_error("%s", why);
			goto out;
		}
	}
	r = tk_msg_set_str(start, TK_TAG_MYNAME, myname);
	if (r == 0 && o.sniname)
		r = tk_msg_set_str(start, TK_TAG_SNINAME, o.sniname);
	if (r < 0) {
		lib_set_error("name too long");
		r = -EINVAL;
		goto out;
	}

	budget = lib_wait_budget_ms(o.handshake_timeout_ms);
	r = start_send(start, &o, &cb, budget, &fd, peername, peername_len);
out:
	free(start);
	if (fd >= 0) {
		/* Failure before the daemon took over: honour the contract that
		 * the caller's socket is shut down and closed. */
		(void)shutdown(fd, SHUT_RDWR);
		(void)tk_close(fd);
	}
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int starttls_client(int fd, int proto, char *myname, int flags, char *sniname, char *peername,
		    size_t peername_len)
{
	struct tlskey_options o = { .size = sizeof(o), .sniname = sniname };

	return starttls_common(fd, proto, myname, flags, TK_ROLE_CLIENT, &o, peername, peername_len);
}

int starttls_server(int fd, int proto, char *myname, int flags, int checksni(char *), char *peername,
		    size_t peername_len)
{
	struct tlskey_options o = { .size = sizeof(o), .checksni = checksni };

	return starttls_common(fd, proto, myname, flags, TK_ROLE_SERVER, &o, peername, peername_len);
}

int tlskey_starttls(int fd, int proto, int role, const char *myname, int flags,
		    const struct tlskey_options *opt, char *peername, size_t peername_len)
{
	if (role != TLSKEY_ROLE_CLIENT && role != TLSKEY_ROLE_SERVER) {
		lib_set_error("unknown role %d", role);
		if (fd >= 0) {
			(void)shutdown(fd, SHUT_RDWR);
			(void)tk_close(fd);
		}
		errno = EINVAL;
		return -1;
	}
	return starttls_common(fd, proto, myname, flags, role, opt, peername, peername_len);
}

/* tlskey_finish() and tlskey_finish_sni*(): one step with a callback. */
static int finish(int pending, const struct sni_cb *cb, char *peername, size_t peername_len)
{
	int r;

	lib_error_clear();
	if (pending < 0) {
		lib_set_error("invalid pending descriptor");
		errno = EBADF;
		return -1;
	}
	if (cb && !sni_cb_set(cb)) {
		lib_set_error("checksni is NULL");
		errno = EINVAL;
		return -1;
	}
	r = await_result(pending, cb ? cb : &(struct sni_cb){ 0 }, cb != NULL, lib_wait_budget_ms(0), peername,
			 peername_len, NULL, 0, NULL);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int tlskey_finish(int pending, char *peername, size_t peername_len)
{
	return finish(pending, NULL, peername, peername_len);
}

int tlskey_finish_sni(int pending, int (*checksni)(char *), char *peername, size_t peername_len)
{
	const struct sni_cb cb = { .plain = checksni };

	return finish(pending, &cb, peername, peername_len);
}

int tlskey_finish_sni_ctx(int pending, int (*checksni)(void *ctx, const char *name, size_t len),
			  void *ctx, char *peername, size_t peername_len)
{
	const struct sni_cb cb = { .ctx = checksni, .arg = ctx };

	return finish(pending, &cb, peername, peername_len);
}
