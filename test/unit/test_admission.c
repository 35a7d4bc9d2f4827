/* Unit tests for keyd/admission.c: the queue of admitted requests and its
 * shares (the first request that fits its uid's share goes, not the
 * head), and the overload refusal of a client whose request arrived when
 * the queue is full.  Real sockets, a real ACL, a real worker inbox (no
 * worker thread: its inbox is inspected). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/admission.h"
#include "keyd/fdcount.h"
#include "keyd/worker.h"
#include "test/unit/keyd-unit.h"
#include "test/unit/keyd-gen-unit.h"
#include "tlskey/starttls.h"

static const char conf_text[] = "max-handshakes-per-uid = 1\n"
				"[identity server.example.test]\n"
				"key = pkcs11:token=t;object=server;type=private\n"
				"cert = /nonexistent/server.pem\n";
static const char acl_text[] = "allow uid:4242 server.example.test server\n";

static struct keyd k;
static struct worker w;
static struct admission a;

static void setup(void)
{
	struct quota_limits lim;
	char err[512] = "";

	memset(&k, 0, sizeof(k));
	memset(&w, 0, sizeof(w));
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&k.acl_lock, NULL);
	k.gen = unit_gen_new(conf_text);
	ck_assert_msg(keyd_conf_parse("t.conf", conf_text, strlen(conf_text), &k.conf, err,
				      sizeof(err)) == 0, "%s", err);
	ck_assert_msg(acl_load_buffer("t.acl", acl_text, strlen(acl_text), &k.acl, err,
				      sizeof(err)) == 0, "%s", err);
	lim = (struct quota_limits){ .pending_per_uid = k.conf->max_pending_per_uid,
				     .handshakes_per_uid = k.conf->max_handshakes_per_uid,
				     .handshakes_per_id = k.conf->max_handshakes_per_identity,
				     .n_ids = k.conf->n_ids };
	ck_assert_int_eq(quota_new(&lim, &k.quota), 0);
	k.donefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w.k = &k;
	w.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&w.lock, NULL);
	k.workers = &w;
	k.n_workers = 1;
	a.k = &k;
	a.epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert(k.donefd >= 0 && w.wakefd >= 0 && a.epfd >= 0);
}

static void teardown(void)
{
	while (w.inbox) {
		struct conn *c = w.inbox;

		w.inbox = c->next;
		(void)tk_close(c->net.fd);
		(void)tk_close(c->ctl.fd);
		acl_unref(c->req.acl);
		gen_unref(c->req.gen);
		free(c);
	}
	admission_shutdown(&a);
	(void)tk_close(a.epfd);
	(void)tk_close(w.wakefd);
	(void)tk_close(k.donefd);
	pthread_mutex_destroy(&w.lock);
	quota_free(k.quota);
	gen_unref(k.gen);
	acl_unref(k.acl);
	keyd_conf_free(k.conf);
	pthread_mutex_destroy(&k.acl_lock);
}

/* An admitted request of uid, queued as admission_readable() queues it. */
static void queue(uid_t uid)
{
	struct pending *p = calloc(1, sizeof(*p));
	int sv[2];

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	p->req.cred = (struct ucred){ .pid = getpid(), .uid = uid, .gid = uid };
	p->req.gen = gen_ref(k.gen);
	p->req.id = &k.conf->ids[0];
	p->req.acl = acl_ref(k.acl);
	p->netfd = sv[0];
	p->ctlfd = sv[1];
	if (a.tail)
		a.tail->next = p;
	else
		a.head = p;
	a.tail = p;
	a.n_pending++;
}

static unsigned inbox_len(void)
{
	unsigned n = 0;

	for (struct conn *c = w.inbox; c; c = c->next)
		n++;
	return n;
}

/* After a dispatch: `inbox` requests handed to the worker, `pending` still
 * queued. */
static void expect_queue(unsigned inbox, unsigned pending)
{
	ck_assert_uint_eq(inbox_len(), inbox);
	ck_assert_uint_eq(a.n_pending, pending);
}

START_TEST(shares_skip_the_head)
{
	queue(4242);
	queue(4242);
	queue(4243);
	admission_dispatch(&a);
	/* uid 4242 has one handshake: its second request waits; uid 4243's,
	 * behind it, goes. */
	expect_queue(2, 1);
	ck_assert_uint_eq(a.head->req.cred.uid, 4242);
	ck_assert_ptr_eq(a.head, a.tail);
	ck_assert_int_eq(atomic_load(&k.queued), 1);
	ck_assert_uint_eq(atomic_load(&k.handshakes), 2);
	ck_assert_uint_eq(quota_uid_handshakes(k.gen->quota, 4242), 1);
	/* A reset holds everything back. */
	quota_handshake_put(k.gen->quota, 4242, 0);
	atomic_store(&k.resetting, 1);
	admission_dispatch(&a);
	ck_assert_uint_eq(a.n_pending, 1);
	/* Once it is over, the share given back lets it go. */
	atomic_store(&k.resetting, 0);
	admission_dispatch(&a);
	ck_assert_uint_eq(a.n_pending, 0);
	ck_assert_ptr_null(a.head);
	ck_assert_ptr_null(a.tail);
	ck_assert_int_eq(atomic_load(&k.queued), 0);
	ck_assert_uint_eq(inbox_len(), 3);
	ck_assert_uint_eq(quota_uid_handshakes(k.gen->quota, 4242), 1);
	ck_assert_uint_eq(quota_uid_handshakes(k.gen->quota, 4243), 1);
}
END_TEST

START_TEST(max_handshakes_holds_the_queue)
{
	k.conf->max_handshakes = 1;
	queue(4242);
	queue(4243);
	admission_dispatch(&a);
	expect_queue(1, 1);
	ck_assert_uint_eq(a.head->req.cred.uid, 4243);
}
END_TEST

START_TEST(overloaded_refusal)
{
	struct client *c = calloc(1, sizeof(*c));
	struct tk_msg m, res;
	int sv[2], tcp[2], fd = -1, l;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	unsigned before;

	ck_assert_ptr_nonnull(c);
	/* A connected loopback TCP socket to pass. */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	tcp[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(tcp[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	tcp[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	(void)tk_close(l);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(&m, 0, sizeof(m));
	m.type = TK_MSG_START;
	m.role = TK_ROLE_SERVER;
	m.proto = IPPROTO_TCP;
	m.present = 1u << TK_TAG_ROLE | 1u << TK_TAG_PROTO | 1u << TK_TAG_FLAGS;
	ck_assert_int_eq(tk_msg_set_str(&m, TK_TAG_MYNAME, "server.example.test"), 0);
	ck_assert_int_eq(tk_msg_send(sv[1], &m, tcp[0]), 0);
	/* The client as a worker hands it over (admission_take_handoffs). */
	c->fd = sv[0];
	c->pidfd = -1;
	c->who.cred = (struct ucred){ .pid = getpid(), .uid = 4242, .gid = 4242 };
	c->who.groups_complete = 1;
	ck_assert_int_eq(quota_pending_take(k.quota, 4242, NULL, 0), 0);
	c->counted = 1;
	a.clients = c;
	a.n_clients = 1;
	k.conf->max_pending = 0; /* the queue is full */
	before = unit_open_fds();
	admission_readable(&a, c); /* frees c */
	ck_assert_int_eq(tk_msg_recv(sv[1], &res, &fd), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_eq(res.err, EAGAIN);
	ck_assert_str_eq(res.message, "tlskeyd is overloaded, try again later");
	/* The client, its passed socket and its share are gone. */
	ck_assert_ptr_null(a.clients);
	ck_assert_uint_eq(a.n_clients, 0);
	ck_assert_uint_eq(a.n_pending, 0);
	ck_assert_uint_eq(quota_uid_pending(k.quota, 4242), 0);
	ck_assert_uint_eq(unit_open_fds(), before - 1);
	ck_assert_uint_eq(inbox_len(), 0);
	{
		char b;

		/* The passed socket was shut down: the remote side sees EOF. */
		ck_assert_int_eq(recv(tcp[1], &b, 1, 0), 0);
	}
	(void)tk_close(sv[1]);
	(void)tk_close(tcp[0]);
	(void)tk_close(tcp[1]);
}
END_TEST

/* fds_short() against the soft limit: room, within the margin, and no
 * descriptor left at all (not even for /proc/self/fd).  The limit is
 * restored at the end (Check may run the tests in one process). */
START_TEST(fds_short_near_the_limit)
{
	struct rlimit saved, rl;
	unsigned long long used, limit;
	int base = open("/dev/null", O_RDONLY | O_CLOEXEC), n = fds_open(), held[64], n_held = 0, fd;

	ck_assert_int_ge(base, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert(saved.rlim_cur == RLIM_INFINITY || saved.rlim_cur > (rlim_t)n + 64);
	rl = saved;

	rl.rlim_cur = (rlim_t)n + 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fds_short(&used, &limit), 0);
	ck_assert_uint_eq(limit, (unsigned long long)n + 64);
	ck_assert_uint_eq(used, (unsigned long long)n);
	ck_assert_uint_eq(fds_limit(), (unsigned long long)n + 64);

	/* Only the margin left (no workers set: the base margin). */
	ck_assert_uint_eq(fds_short_margin(), FDS_SHORT_MARGIN);
	rl.rlim_cur = (rlim_t)n + FDS_SHORT_MARGIN;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fds_short(&used, &limit), 1);
	ck_assert_uint_eq(used, (unsigned long long)n);

	/* One more than the margin: not short. */
	rl.rlim_cur = (rlim_t)n + FDS_SHORT_MARGIN + 1;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fds_short(&used, &limit), 0);
	/* With 16 workers the margin grows by what their signatures hold:
	 * the same limit is short now, and so is one 36 above the count. */
	fds_short_set_workers(16);
	ck_assert_uint_eq(fds_short_margin(), FDS_SHORT_MARGIN + 16 * FDS_SHORT_PER_WORKER);
	ck_assert_int_eq(fds_short(&used, &limit), 1);
	rl.rlim_cur = (rlim_t)n + fds_short_margin();
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fds_short(&used, &limit), 1);
	rl.rlim_cur = (rlim_t)n + fds_short_margin() + 1;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fds_short(&used, &limit), 0);
	fds_short_set_workers(0);

	/* None left. */
	while (n_held < 64 && (fd = fcntl(base, F_DUPFD_CLOEXEC, 0)) >= 0)
		held[n_held++] = fd;
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_int_eq(fds_open(), -EMFILE);
	ck_assert_int_eq(fds_short(&used, &limit), 1);
	ck_assert_uint_eq(used, limit);

	while (n_held > 0)
		(void)tk_close(held[--n_held]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	ck_assert_int_eq(fds_open(), n);
	(void)tk_close(base);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { shares_skip_the_head, max_handshakes_holds_the_queue,
				overloaded_refusal, fds_short_near_the_limit, NULL };

	return tkt_run("admission", "/keyd/admission", setup, teardown, 0, tests);
}
