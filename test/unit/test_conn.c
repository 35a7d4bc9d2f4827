/* Unit tests for keyd/conn.c with the real handshake engine on
 * socketpairs: the ownership rule (a handler that fails closes the conn
 * once, releases every descriptor and slot, and says CONN_CLOSED), and the
 * leak of issue 14: a failed epoll registration in handshake_step() used
 * to be followed by make_protected() on the closed conn, whose two
 * descriptors were never closed.  The failure is a real one: the network
 * socket is already registered with the worker's epoll set, so epoll_ctl()
 * fails with EEXIST. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/handshake.h"
#include "keyd/worker.h"
#include "keyd/keys.h"
#include "test/unit/keyd-unit.h"
#include "test/unit/keyd-gen-unit.h"
#include "tlskey/starttls.h"

static const char conf_text[] = "[identity client.example.test]\n"
				"key = pkcs11:token=t;object=client;type=private\n"
				"cert = /nonexistent/client.pem\n";

static struct keyd k;
static struct worker w;

static void setup(void)
{
	memset(&k, 0, sizeof(k));
	memset(&w, 0, sizeof(w));
	k.gen = unit_gen_new(conf_text);
	k.conf = k.gen->conf;
	k.donefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(k.donefd, 0);
	k.n_workers = 1;
	k.workers = &w;
	w.k = &k;
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(w.epfd, 0);
	w.scratch = malloc(RELAY_IO_SCRATCH_SIZE);
	ck_assert(w.scratch);
}

static void teardown(void)
{
	while (w.grave) {
		struct conn *c = w.grave;
		w.grave = c->next;
		free(c);
	}
	keys_free_all(&w);
	free(w.scratch);
	(void)tk_close(w.epfd);
	(void)tk_close(k.donefd);
	gen_unref(k.gen);
}

/* An admitted client request (no local certificate: no token needed) on
 * netfd and ctlfd, adopted by w as worker.c does it, slot taken. */
static struct conn *adopt(int netfd, int ctlfd)
{
	struct conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->req.msg.role = TK_ROLE_CLIENT;
	c->req.msg.proto = IPPROTO_TCP;
	c->req.msg.flags = TLSKEY_FLAG_NO_LOCAL_CERT;
	c->req.msg.peername_max = UINT32_MAX;
	(void)snprintf(c->req.msg.myname, sizeof(c->req.msg.myname), "client.example.test");
	c->req.gen = gen_ref(k.gen);
	c->req.id = &k.conf->ids[0];
	c->req.id_index = 0;
	c->req.cred = (struct ucred){ .pid = getpid(), .uid = 4242, .gid = 4242 };
	c->req.t_start_ms = tk_now_ms();
	c->net = (struct ev){ .kind = EV_NET, .fd = netfd };
	c->app = (struct ev){ .kind = EV_APP, .fd = -1 };
	c->ctl = (struct ev){ .kind = EV_CTL, .fd = ctlfd };
	c->app_out = -1;
	c->w = &w;
	c->state = CONN_HANDSHAKE;
	c->sign_us = -1;
	ck_assert_int_eq(quota_handshake_take(k.gen->quota, 4242, 0), 0);
	ck_assert_int_eq(keys_attach(c), 0);
	c->hs_slot = 1;
	(void)atomic_fetch_add(&k.handshakes, 1);
	(void)atomic_fetch_add(&k.sessions, 1);
	c->next = w.conns;
	w.conns = c;
	w.n_conns++;
	w.n_handshakes++;
	conn_set_timed(c, 1);
	return c;
}

/* Everything the conn held is given back. */
static void assert_released(const struct conn *c)
{
	ck_assert(c->dead);
	ck_assert_ptr_eq(w.grave, c);
	ck_assert_ptr_null(w.conns);
	ck_assert_ptr_null(w.timed);
	ck_assert_uint_eq(w.n_conns, 0);
	ck_assert_uint_eq(w.n_handshakes, 0);
	ck_assert_uint_eq(atomic_load(&k.handshakes), 0);
	ck_assert_uint_eq(atomic_load(&k.sessions), 0);
	ck_assert_uint_eq(quota_uid_handshakes(k.gen->quota, 4242), 0);
	ck_assert_uint_eq(quota_id_handshakes(k.gen->quota, 0), 0);
	ck_assert_int_eq(c->net.fd, -1);
	ck_assert_int_eq(c->ctl.fd, -1);
	ck_assert_int_eq(c->app.fd, -1);
	ck_assert_int_eq(c->app_out, -1);
	ck_assert_ptr_null(c->tls);
}

START_TEST(epoll_failure_in_step_leaks_nothing)
{
	int net[2], ctl[2], fd = -1;
	struct epoll_event e = { .events = EPOLLIN };
	struct tk_msg res;
	struct conn *c;
	unsigned before = unit_open_fds();
	char hello[64];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, net), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl), 0);
	/* The injected failure: the network socket is in the set already. */
	ck_assert_int_eq(epoll_ctl(w.epfd, EPOLL_CTL_ADD, net[0], &e), 0);
	c = adopt(net[0], ctl[0]);
	/* begin -> step: the ClientHello goes out, GnuTLS wants to read,
	 * registering the socket fails. */
	ck_assert_int_eq(handshake_begin(c), CONN_CLOSED);
	assert_released(c);
	/* The client did send its hello before the failure. */
	ck_assert_int_gt(recv(net[1], hello, sizeof(hello), MSG_DONTWAIT), 0);
	/* The caller heard why, once. */
	ck_assert_int_eq(tk_msg_recv(ctl[1], &res, &fd), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_eq(res.type, TK_MSG_RESULT);
	ck_assert_uint_eq(res.err, EEXIST);
	ck_assert_ptr_nonnull(strstr(res.message, "epoll"));
	ck_assert_int_eq(tk_msg_recv(ctl[1], &res, &fd), -ECONNRESET);
	/* A second close is a no-op. */
	ck_assert_int_eq(conn_close(c, EIO, "again"), CONN_CLOSED);
	ck_assert_ptr_null(c->next);
	(void)tk_close(net[1]);
	(void)tk_close(ctl[1]);
	/* No protected descriptor was made for the dead conn. */
	ck_assert_uint_eq(unit_open_fds(), before);
}
END_TEST

START_TEST(caller_gone_closes_once)
{
	int net[2], ctl[2];
	struct conn *c;
	unsigned before = unit_open_fds();

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, net), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl), 0);
	c = adopt(net[0], ctl[0]);
	/* A healthy start: the hello is out, c waits for the peer, and the
	 * protected descriptor was made early (both ends held by c). */
	ck_assert_int_eq(handshake_begin(c), CONN_LIVE);
	ck_assert(!c->dead);
	ck_assert_int_ge(c->app.fd, 0);
	ck_assert_int_ge(c->app_out, 0);
	ck_assert_uint_eq(atomic_load(&k.handshakes), 1);
	/* The caller goes away: the ctl event ends c. */
	(void)tk_close(ctl[1]);
	ck_assert_int_eq(handshake_ctl_event(c, EPOLLIN | EPOLLRDHUP), CONN_CLOSED);
	assert_released(c);
	/* The peer sees the connection end. */
	{
		char buf[4096];
		ssize_t n;

		while ((n = recv(net[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		ck_assert_int_eq(n, 0);
	}
	(void)tk_close(net[1]);
	ck_assert_uint_eq(unit_open_fds(), before);
}
END_TEST

START_TEST(state_change_moves_counts)
{
	int net[2], ctl[2];
	struct conn *c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, net), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl), 0);
	c = adopt(net[0], ctl[0]);
	c->retransmit_ms = 5;
	conn_set_state(c, CONN_RELAY);
	ck_assert_int_eq(c->state, CONN_RELAY);
	ck_assert(!c->hs_slot && !c->timed && !c->retransmit_ms);
	ck_assert_uint_eq(w.n_handshakes, 0);
	ck_assert_uint_eq(atomic_load(&k.handshakes), 0);
	ck_assert_uint_eq(atomic_load(&k.sessions), 1); /* still a session */
	ck_assert_uint_eq(quota_uid_handshakes(k.gen->quota, 4242), 0);
	conn_set_state(c, CONN_DRAIN);
	ck_assert(c->timed);
	ck_assert_ptr_eq(w.timed, c);
	ck_assert_int_eq(conn_close(c, 0, "done"), CONN_CLOSED);
	assert_released(c);
	/* No state change on a closed conn. */
	conn_set_state(c, CONN_RELAY);
	ck_assert_int_eq(c->state, CONN_DRAIN);
	(void)tk_close(net[1]);
	(void)tk_close(ctl[1]);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { epoll_failure_in_step_leaks_nothing, caller_gone_closes_once,
				state_change_moves_counts, NULL };

	return tkt_run("conn", "/keyd/conn", setup, teardown, 0, tests);
}
