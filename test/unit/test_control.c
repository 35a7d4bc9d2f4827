/* Unit tests for keyd/control.c: the admission decision on the wire fields
 * (start_check_request), the dispatch table (unknown type, descriptor
 * rule, who may send) and control_admit() end to end over a real
 * SOCK_SEQPACKET socketpair, with a real ACL and real passed sockets. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/control.h"
#include "keyd/start_check.h"
#include "keyd/registry.h"
#include "keyd/wcmd.h"
#include "keyd/worker.h"
#include "common/sessdoc.h"
#include "test/unit/keyd-unit.h"
#include "test/unit/keyd-gen-unit.h"
#include "tlskey/starttls.h"

static struct tk_msg start_msg(uint8_t role, uint8_t proto, uint32_t flags, const char *myname)
{
	struct tk_msg m;

	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_START;
	m.role = role;
	m.proto = proto;
	m.flags = flags;
	m.present = 1u << TK_TAG_ROLE | 1u << TK_TAG_PROTO | 1u << TK_TAG_FLAGS;
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_MYNAME, myname), 0);
	return m;
}

static int check(const struct tk_msg *m, const char *want_why)
{
	char why[TK_MESSAGE_MAX] = "";
	int r = start_check_request(m, why, sizeof(why));

	if (want_why)
		ck_assert_msg(strstr(why, want_why), "why: %s", why);
	return r;
}

START_TEST(check_request_decisions)
{
	struct tk_msg m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "server.example.test");

	ck_assert_int_eq(check(&m, NULL), 0);
	m.role = 9;
	ck_assert_int_eq(check(&m, "unknown role 9"), -EINVAL);
	m = start_msg(TK_ROLE_SERVER, IPPROTO_SCTP, 0, "server.example.test");
	ck_assert_int_eq(check(&m, "unsupported protocol"), -EPROTONOSUPPORT);
	m = start_msg(TK_ROLE_SERVER, IPPROTO_UDP, 0x80000000u, "server.example.test");
	ck_assert_int_eq(check(&m, "unknown flags"), -EINVAL);
	/* Flags of the other role. */
	m = start_msg(TK_ROLE_CLIENT, IPPROTO_TCP, TLSKEY_FLAG_NO_REQUIRE_PEER_CERT, "a.example.test");
	ck_assert_int_eq(check(&m, "do not apply to this role"), -EINVAL);
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, TLSKEY_FLAG_NO_LOCAL_CERT, "a.example.test");
	ck_assert_int_eq(check(&m, "do not apply to this role"), -EINVAL);
	m = start_msg(TK_ROLE_CLIENT, IPPROTO_TCP, TLSKEY_FLAG_NO_LOCAL_CERT, "a.example.test");
	ck_assert_int_eq(check(&m, NULL), 0);
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "not a name");
	ck_assert_int_eq(check(&m, "invalid local identity name"), -EINVAL);
	/* SNI is the client's. */
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "a.example.test");
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_SNINAME, "b.example.test"), 0);
	ck_assert_int_eq(check(&m, "invalid server name indication"), -EINVAL);
	m.role = TK_ROLE_CLIENT;
	ck_assert_int_eq(check(&m, NULL), 0);
	/* ALPN: strict needs a list; DTLS takes none. */
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "a.example.test");
	m.alpn_strict = 1;
	m.present |= 1u << TK_TAG_ALPN_STRICT;
	ck_assert_int_eq(check(&m, "strict ALPN without an ALPN list"), -EINVAL);
	ck_assert_int_eq(tk_msg_set_alpn(&m, (const uint8_t *)"\2h2", 3), 0);
	ck_assert_int_eq(check(&m, NULL), 0);
	m.proto = IPPROTO_UDP;
	ck_assert_int_eq(check(&m, "ALPN is for TLS over TCP only"), -EINVAL);
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "a.example.test");
	m.timeout_ms = 3600u * 1000u + 1;
	ck_assert_int_eq(check(&m, "over one hour"), -EINVAL);
	m.timeout_ms = 0;
	m.allow_hs_timeout = 1;
	ck_assert_int_eq(check(&m, "allow-handshake-timeout needs"), -EINVAL);
	m.timeout_ms = 1000;
	ck_assert_int_eq(check(&m, NULL), 0);
	m = start_msg(TK_ROLE_CLIENT, IPPROTO_TCP, 0, "a.example.test");
	m.checksni = 1;
	ck_assert_int_eq(check(&m, "SNI checking applies to the server role only"), -EINVAL);
}
END_TEST

START_TEST(table_rows)
{
	const struct control_entry *e;
	struct ucred root = { .uid = 0 }, self = { .uid = geteuid() }, other = { .uid = 54321 };

	e = control_entry_find(TK_MSG_START);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->fd_rule, CONTROL_FD_REQUIRED);
	ck_assert(control_may_send(e, &other));
	e = control_entry_find(TK_MSG_QUERY);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->fd_rule, CONTROL_FD_REQUIRED);
	ck_assert(control_may_send(e, &other));
	e = control_entry_find(TK_MSG_RELOAD);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->fd_rule, CONTROL_FD_NONE);
	ck_assert(control_may_send(e, &root));
	ck_assert(control_may_send(e, &self));
	ck_assert(!control_may_send(e, &other));
	e = control_entry_find(TK_MSG_CHECK);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->fd_rule, CONTROL_FD_NONE);
	ck_assert(control_may_send(e, &other));
	/* What is served and the upgrade: root and the daemon's own uid. */
	static const unsigned admin_only[] = { TK_MSG_KEYS, TK_MSG_UPGRADE };

	for (size_t i = 0; i < sizeof(admin_only) / sizeof(admin_only[0]); i++) {
		e = control_entry_find(admin_only[i]);
		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(e->fd_rule, CONTROL_FD_NONE);
		ck_assert(control_may_send(e, &root));
		ck_assert(control_may_send(e, &self));
		ck_assert(!control_may_send(e, &other));
	}
	/* KEY_INFO is the daemon's answer, never a request. */
	ck_assert_ptr_null(control_entry_find(TK_MSG_KEY_INFO));
	/* The session calls: the protected descriptor is the credential. */
	e = control_entry_find(TK_MSG_QUERY_FULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->fd_rule, CONTROL_FD_REQUIRED);
	ck_assert(control_may_send(e, &other));
	e = control_entry_find(TK_MSG_SESSION_CTL);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->fd_rule, CONTROL_FD_REQUIRED);
	ck_assert(control_may_send(e, &other));
	/* Messages the daemon sends, or that belong to a running handshake,
	 * are no requests. */
	ck_assert_ptr_null(control_entry_find(0));
	ck_assert_ptr_null(control_entry_find(TK_MSG_RESULT));
	ck_assert_ptr_null(control_entry_find(TK_MSG_SNI_ANSWER));
	ck_assert_ptr_null(control_entry_find(TK_MSG_QUERY_RESULT));
	ck_assert_ptr_null(control_entry_find(TK_MSG_TYPE_MAX));
}
END_TEST

/* A daemon around control_admit(): configuration, ACL and a caller. */
static struct keyd k;
static struct caller who;
static int sv[2] = { -1, -1 }; /* [0] the daemon's end, [1] the client's */

static const char conf_text[] = "[identity server.example.test]\n"
				"key = pkcs11:token=t;object=server;type=private\n"
				"cert = /nonexistent/server.pem\n";
static const char acl_text[] = "allow uid:4242 server.example.test server\n";

static void setup(void)
{
	char err[512] = "";

	memset(&k, 0, sizeof(k));
	pthread_mutex_init(&k.acl_lock, NULL);
	k.gen = unit_gen_new(conf_text);
	k.conf = k.gen->conf;
	ck_assert_msg(acl_load_buffer("test.acl", acl_text, strlen(acl_text), &k.acl, err,
				      sizeof(err)) == 0, "%s", err);
	memset(&who, 0, sizeof(who));
	who.cred = (struct ucred){ .pid = getpid(), .uid = 4242, .gid = 4242 };
	who.groups_complete = 1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void teardown(void)
{
	(void)tk_close(sv[0]);
	(void)tk_close(sv[1]);
	acl_unref(k.acl);
	gen_unref(k.gen);
	pthread_mutex_destroy(&k.acl_lock);
}

/* Send m (with passfd, or -1), let the daemon side admit it, and read the
 * answer into *ret (its type, err and message). */
static int admit(const struct tk_msg *m, int passfd, struct tk_msg *ret, struct keyd_request *req,
		 int *netfd)
{
	int r, fd = -1;

	ck_assert_int_eq(tk_msg_send(sv[1], m, passfd), 0);
	r = control_admit(&k, sv[0], &who, req, netfd);
	memset(ret, 0, sizeof(*ret));
	if (r != 0) {
		ck_assert_int_eq(tk_msg_recv(sv[1], ret, &fd), 0);
		ck_assert_int_eq(fd, -1);
	}
	return r;
}

static void tcp_pair(int ret[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	ret[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(ret[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	ret[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(ret[1], 0);
	(void)tk_close(l);
}

/* start_check_fd on real sockets: the one-call TCP test (TCP_IS_MPTCP)
 * lets only plain connected TCP through, and every other kind still gets
 * its own errno. */
static int fd_check(int fd, int proto)
{
	struct sockaddr_storage peer;
	char why[TK_MESSAGE_MAX] = "";

	return start_check_fd(fd, proto, &peer, why, sizeof(why));
}

START_TEST(check_fd_kinds)
{
	int tcp[2], u, un[2], p[2], s;

	tcp_pair(tcp);
	ck_assert_int_eq(fd_check(tcp[0], IPPROTO_TCP), 0);
	ck_assert_int_eq(fd_check(tcp[0], IPPROTO_UDP), -EPROTOTYPE);
	(void)tk_close(tcp[0]);
	(void)tk_close(tcp[1]);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(fd_check(s, IPPROTO_TCP), -ENOTCONN);
	(void)tk_close(s);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(u, 0);
	ck_assert_int_eq(fd_check(u, IPPROTO_TCP), -EPROTOTYPE);
	(void)tk_close(u);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, un), 0);
	ck_assert_int_eq(fd_check(un[0], IPPROTO_TCP), -EPROTONOSUPPORT);
	(void)tk_close(un[0]);
	(void)tk_close(un[1]);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(fd_check(p[0], IPPROTO_TCP), -ENOTSOCK);
	(void)tk_close(p[0]);
	(void)tk_close(p[1]);
	/* A raw socket of protocol TCP answers SO_PROTOCOL with 6, but is
	 * no stream (needs CAP_NET_RAW: root in CI). */
	s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s >= 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		ck_assert_int_eq(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(fd_check(s, IPPROTO_TCP), -EPROTOTYPE);
		(void)tk_close(s);
	}
	/* MPTCP is a stream of another protocol: refused as before. */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 262 /* IPPROTO_MPTCP */);
	if (s >= 0) {
		ck_assert_int_eq(fd_check(s, IPPROTO_TCP), -EPROTONOSUPPORT);
		(void)tk_close(s);
	}
}
END_TEST

START_TEST(dispatch_unknown_type)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1, p[2];
	unsigned before;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	before = unit_open_fds();
	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_RESULT; /* valid on the wire, no request */
	m.present = 1u << TK_TAG_ERRNO;
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), -EBADMSG);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, EBADMSG);
	ck_assert_str_eq(res.message, "unexpected message type");
	/* The descriptor that came with it was closed, not kept. */
	ck_assert_uint_eq(unit_open_fds(), before);
	ck_assert_int_eq(netfd, -1);
	(void)tk_close(p[0]);
	(void)tk_close(p[1]);
}
END_TEST

START_TEST(dispatch_descriptor_rule)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1, p[2];
	unsigned before;

	/* START requires one. */
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "server.example.test");
	ck_assert_int_ne(admit(&m, -1, &res, &req, &netfd), 0);
	ck_assert_uint_eq(res.err, EBADF);
	ck_assert_str_eq(res.message, "no file descriptor attached");
	/* ... but the wire fields are judged first. */
	m.role = 7;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), -EINVAL);
	ck_assert_ptr_nonnull(strstr(res.message, "unknown role"));
	/* QUERY requires one, and answers in its own format. */
	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_QUERY;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.type, TK_MSG_QUERY_RESULT);
	ck_assert_uint_eq(res.err, EBADF);
	ck_assert_str_eq(res.message, "no file descriptor attached");
	/* A QUERY with a descriptor that is no session: ENOENT, closed. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	before = unit_open_fds();
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.type, TK_MSG_QUERY_RESULT);
	ck_assert_uint_ne(res.err, 0);
	ck_assert_uint_eq(unit_open_fds(), before);
	/* A START with the wrong kind of socket. */
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "server.example.test");
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), -EPROTONOSUPPORT);
	ck_assert_str_eq(res.message, "passed socket is not a TCP socket");
	ck_assert_uint_eq(unit_open_fds(), before);
	(void)tk_close(p[0]);
	(void)tk_close(p[1]);
}
END_TEST

/* The accept loop closes what a handler leaves in x.fd after
 * control_dispatch() (admission.c, take_call): a handler that closed the
 * descriptor must say so with -1, or that second close hits whatever
 * descriptor another thread got the same number for in between.  Every
 * request type that takes a descriptor, answered and refused, with a
 * socket that is no session. */
START_TEST(dispatch_disposes_descriptor)
{
	const uint8_t types[] = { TK_MSG_QUERY, TK_MSG_QUERY_FULL, TK_MSG_SESSION_CTL, TK_MSG_STATUS };

	for (size_t i = 0; i < sizeof(types); i++) {
		for (int refused = 0; refused < 2; refused++) {
			struct tk_msg m = { .type = types[i] };
			struct control_call x = { .k = &k, .ctlfd = sv[0], .who = &who, .m = &m };
			struct caller nobody = who;
			struct tk_msg ans;
			int p[2], fd, extra = -1;

			if (types[i] == TK_MSG_SESSION_CTL) {
				m.ctl_op = TK_CTL_CLOSE_NOTIFY;
				m.present = 1u << TK_TAG_CTL_OP;
				/* Refused by its check: an unknown operation. */
				if (refused)
					m.ctl_op = TK_CTL_MAX;
			} else if (refused) {
				/* Refused before the handler: not allowed to send it. */
				nobody.cred.uid = 4242;
				x.who = &nobody;
			}
			ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
			fd = x.fd = p[0];
			(void)control_dispatch(&x);
			/* Answered in the type's own format, whatever it said. */
			ck_assert_int_eq(tk_msg_recv(sv[1], &ans, &extra), 0);
			(void)tk_close(extra);
			if (x.fd >= 0) {
				/* Kept: then it is still ours to close. */
				ck_assert_int_eq(x.fd, fd);
				ck_assert_int_ne(fcntl(x.fd, F_GETFD), -1);
				(void)tk_close(x.fd);
			} else {
				ck_assert_msg(fcntl(fd, F_GETFD) == -1 && errno == EBADF,
					      "type %u (%s): x.fd is -1 but the descriptor is open",
					      types[i], refused ? "refused" : "handled");
			}
			(void)tk_close(p[1]);
		}
	}
}
END_TEST

static struct tk_msg ctl_msg(uint8_t op)
{
	struct tk_msg m = { .type = TK_MSG_SESSION_CTL, .ctl_op = op,
			    .present = 1u << TK_TAG_CTL_OP };
	return m;
}

/* SESSION_CTL from a caller that skips the library: every field checked
 * by the daemon; a live session's request goes to its worker's mailbox,
 * bounded, and the worker answers on its own copy of the socket. */
START_TEST(dispatch_session_ctl)
{
	struct tk_msg m, res;
	struct keyd_request req;
	struct worker w;
	struct session_info *info;
	int netfd = -1, p[2], fd = -1;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	m = ctl_msg(9);
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, EINVAL);
	ck_assert_str_eq(res.message, "unknown session control 9");
	m = ctl_msg(TK_CTL_EXPORT);
	m.export_len = 32;
	m.present |= 1u << TK_TAG_EXPORT_LEN;
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_str_eq(res.message, "the exporter needs a label");
	(void)tk_msg_set_str(&m, TK_TAG_LABEL, "EXPERIMENTAL-x");
	m.export_len = TK_EXPORT_MAX + 1;
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EINVAL);
	m.export_len = 0;
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EINVAL);
	m = ctl_msg(TK_CTL_KEY_UPDATE);
	(void)tk_msg_set_str(&m, TK_TAG_LABEL, "EXPERIMENTAL-x");
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_str_eq(res.message, "exporter fields on another session control");
	/* Valid, but no descriptor; then one that is no session. */
	m = ctl_msg(TK_CTL_KEY_UPDATE);
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EBADF);
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, ENOENT);

	/* A live session owned by a (thread-less) worker. */
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(pthread_mutex_init(&w.lock, NULL), 0);
	w.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(w.wakefd, 0);
	info = registry_info_new(NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(info);
	info->owner = &w;
	ck_assert_int_eq(registry_add(info, p[0]), 0);
	ck_assert_int_eq(tk_msg_send(sv[1], &m, p[0]), 0);
	ck_assert_int_eq(control_admit(&k, sv[0], &who, &req, &netfd), CONTROL_KEPT);
	/* Queued, not answered by the accept thread, which drops its copy
	 * of the connection as the accept loop does (no shutdown). */
	ck_assert_uint_eq(w.n_wcmds, 1);
	ck_assert_int_eq(recv(sv[1], &res, 1, MSG_DONTWAIT | MSG_PEEK), -1);
	sv[0] = tk_close(sv[0]);
	/* The worker answers on its copy (no conn of its own has that
	 * session), then ends the connection. */
	wcmd_run(&w);
	ck_assert_uint_eq(w.n_wcmds, 0);
	ck_assert_int_eq(tk_msg_recv(sv[1], &res, &fd), 0);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, ENOENT);
	ck_assert_int_eq(tk_msg_recv(sv[1], &res, &fd), -ECONNRESET);
	(void)tk_close(sv[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* A full mailbox: EAGAIN at once. */
	w.n_wcmds = WCMD_QUEUE_MAX;
	ck_assert_int_eq(admit(&m, p[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EAGAIN);
	w.n_wcmds = 0;
	/* QUERY_FULL of the same session: a sealed memfd with the document. */
	(void)snprintf(info->local, sizeof(info->local), "server.example.test");
	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_QUERY_FULL;
	ck_assert_int_eq(tk_msg_send(sv[1], &m, p[0]), 0);
	ck_assert_int_eq(control_admit(&k, sv[0], &who, &req, &netfd), 1);
	ck_assert_int_eq(tk_msg_recv(sv[1], &res, &fd), 0);
	ck_assert_uint_eq(res.type, TK_MSG_QUERY_RESULT);
	ck_assert_uint_eq(res.err, 0);
	ck_assert_int_ge(fd, 0);
	{
		uint8_t doc[4096];
		struct tk_sessdoc d;
		ssize_t n = pread(fd, doc, sizeof(doc), 0);

		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(tk_sessdoc_decode(doc, (size_t)n, &d), 0);
		ck_assert_str_eq(d.local, "server.example.test");
		ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE, F_SEAL_WRITE);
	}
	(void)tk_close(fd);
	registry_remove(info);
	(void)tk_close(w.wakefd);
	pthread_mutex_destroy(&w.lock);
	(void)tk_close(p[0]);
	(void)tk_close(p[1]);
}
END_TEST

START_TEST(dispatch_who_may_send)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1;

	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_RELOAD;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EPERM);
	{
		char want[128];

		(void)snprintf(want, sizeof(want), "only root and the daemon's user (uid %u) may reload tlskeyd",
			       (unsigned)geteuid());
		ck_assert_str_eq(res.message, want);
	}
	/* The daemon's own uid may: the configuration was not read from a
	 * file here, so the reload itself fails, with its own reason, and
	 * the configuration in force stays. */
	who.cred.uid = geteuid();
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, ENOENT);
	ck_assert_str_eq(res.message, "keeping the previous configuration: no configuration file");
	ck_assert_uint_eq(k.gen->serial, 1);
}
END_TEST

/* KEYS: admin only; one KEY_INFO per identity of the generation in
 * force, then a RESULT naming the generation. */
START_TEST(keys_lists_the_generation)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1, fd = -1;

	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_KEYS;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, EPERM);
	{
		char want[128];

		(void)snprintf(want, sizeof(want),
			       "only root and the daemon's user (uid %u) may list the keys of tlskeyd",
			       (unsigned)geteuid());
		ck_assert_str_eq(res.message, want);
	}
	who.cred.uid = geteuid();
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.type, TK_MSG_KEY_INFO);
	ck_assert_str_eq(res.localname, "server.example.test");
	ck_assert_str_eq(res.message, "/nonexistent/server.pem");
	ck_assert(!TK_HAS(&res, TK_TAG_PEER_CERT)); /* no chain loaded in this fixture */
	ck_assert_int_eq(tk_msg_recv(sv[1], &res, &fd), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, 0);
	ck_assert_str_eq(res.message, "generation 1: 1 identities");
}
END_TEST

/* STATUS: root, the daemon's uid and admin-group; the document comes
 * as a sealed memfd. */
START_TEST(dispatch_status)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1, fd = -1;
	char buf[64];

	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_STATUS;
	m.format = TK_FORMAT_TEXT;
	m.present = 1u << TK_TAG_FORMAT;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EPERM);
	ck_assert_ptr_nonnull(strstr(res.message, "no admin-group is configured"));
	/* A member of admin-group (a supplementary group) may. */
	k.conf->admin_group = strdup("ops");
	k.conf->admin_gid = 777;
	who.groups = (gid_t[]){ 10, 777 };
	who.n_groups = 2;
	ck_assert_int_eq(tk_msg_send(sv[1], &m, -1), 0);
	ck_assert_int_eq(control_admit(&k, sv[0], &who, &req, &netfd), 1);
	ck_assert_int_eq(tk_msg_recv(sv[1], &res, &fd), 0);
	ck_assert_uint_eq(res.err, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE, F_SEAL_WRITE);
	ck_assert_int_gt(pread(fd, buf, sizeof(buf) - 1, 0), 8);
	ck_assert_int_eq(strncmp(buf, "tlskeyd ", 8), 0);
	(void)tk_close(fd);
	/* ... unless its groups could not be read in full. */
	who.groups_complete = 0;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EPERM);
	ck_assert_ptr_nonnull(strstr(res.message, "members of admin-group ops may ask"));
	who.groups = NULL;
	who.n_groups = 0;
	/* An unknown format. */
	who.cred.uid = geteuid();
	m.format = 9;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EINVAL);
}
END_TEST

START_TEST(admit_start_decisions)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1, tcp[2];
	unsigned before;

	tcp_pair(tcp);
	before = unit_open_fds();
	/* No such identity. */
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "other.example.test");
	ck_assert_int_eq(admit(&m, tcp[0], &res, &req, &netfd), -ENOKEY);
	ck_assert_ptr_nonnull(strstr(res.message, "no key configured for other.example.test"));
	ck_assert_uint_eq(unit_open_fds(), before);
	/* The ACL: another uid is denied, and so is the wrong role. */
	who.cred.uid = 4243;
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "SERVER.example.test");
	ck_assert_int_eq(admit(&m, tcp[0], &res, &req, &netfd), -EACCES);
	ck_assert_ptr_nonnull(strstr(res.message, "access to server.example.test as server denied"));
	who.cred.uid = 4242;
	m = start_msg(TK_ROLE_CLIENT, IPPROTO_TCP, 0, "server.example.test");
	ck_assert_int_eq(admit(&m, tcp[0], &res, &req, &netfd), -EACCES);
	/* Groups that could not be read in full: refused. */
	who.groups_complete = 0;
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "server.example.test");
	ck_assert_int_eq(admit(&m, tcp[0], &res, &req, &netfd), -EACCES);
	ck_assert_ptr_nonnull(strstr(res.message, "supplementary groups"));
	ck_assert_uint_eq(unit_open_fds(), before);
	/* Admitted: the request (canonical name, an ACL reference, the
	 * timer capped at handshake-timeout) and the socket come back. */
	who.groups_complete = 1;
	m = start_msg(TK_ROLE_SERVER, IPPROTO_TCP, 0, "SERVER.example.test");
	m.timeout_ms = 3600u * 1000u;
	m.present |= 1u << TK_TAG_TIMEOUT_MS;
	ck_assert_int_eq(admit(&m, tcp[0], &res, &req, &netfd), 0);
	ck_assert_int_ge(netfd, 0);
	ck_assert_str_eq(req.msg.myname, "server.example.test");
	ck_assert_ptr_eq(req.acl, k.acl);
	ck_assert(req.decision.allowed);
	ck_assert_uint_eq(req.msg.timeout_ms, k.conf->handshake_timeout_ms);
	ck_assert_uint_eq(unit_open_fds(), before + 1);
	acl_unref(req.acl);
	gen_unref(req.gen);
	(void)tk_close(netfd);
	(void)tk_close(tcp[0]);
	(void)tk_close(tcp[1]);
}
END_TEST

/* CHECK: START's identity and ACL decision for the caller itself, no
 * descriptor, answered with a RESULT. */
START_TEST(admit_check_decisions)
{
	struct tk_msg m, res;
	struct keyd_request req;
	int netfd = -1, tcp[2];
	unsigned before;

	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_CHECK;
	m.role = TK_ROLE_SERVER;
	m.present = (1u << TK_TAG_ROLE);
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_MYNAME, "SERVER.example.test"), 0);
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, 0);
	ck_assert_str_eq(res.message, "server.example.test as server: allowed");
	/* The wrong role, another uid, incomplete groups: EACCES. */
	m.role = TK_ROLE_CLIENT;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EACCES);
	ck_assert_str_eq(res.message, "access to server.example.test as client denied by tlskeyd policy");
	m.role = TK_ROLE_SERVER;
	who.cred.uid = 4243;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EACCES);
	who.cred.uid = 4242;
	who.groups_complete = 0;
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, EACCES);
	who.groups_complete = 1;
	/* No such identity. */
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_MYNAME, "other.example.test"), 0);
	ck_assert_int_eq(admit(&m, -1, &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, ENOKEY);
	/* A descriptor sent with it is closed, never kept (CONTROL_FD_NONE). */
	tcp_pair(tcp);
	before = unit_open_fds();
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_MYNAME, "server.example.test"), 0);
	ck_assert_int_eq(admit(&m, tcp[0], &res, &req, &netfd), 1);
	ck_assert_uint_eq(res.err, 0);
	ck_assert_uint_eq(unit_open_fds(), before);
	(void)tk_close(tcp[0]);
	(void)tk_close(tcp[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *pure = tcase_create("/keyd/control/check");
	TCase *tc = tcase_create("/keyd/control/dispatch");

	tcase_add_test(pure, check_request_decisions);
	tcase_add_test(pure, table_rows);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, check_fd_kinds);
	tcase_add_test(tc, dispatch_unknown_type);
	tcase_add_test(tc, dispatch_descriptor_rule);
	tcase_add_test(tc, dispatch_disposes_descriptor);
	tcase_add_test(tc, dispatch_who_may_send);
	tcase_add_test(tc, dispatch_session_ctl);
	tcase_add_test(tc, dispatch_status);
	tcase_add_test(tc, admit_start_decisions);
	tcase_add_test(tc, admit_check_decisions);
	tcase_add_test(tc, keys_lists_the_generation);
	suite_add_tcase(s, pure);
	suite_add_tcase(s, tc);
	return tkt_suite_run(s);
}
