/* Unit tests for keyd/relay.c over socketpairs: a session that stayed in
 * cleartext (allow-handshake-timeout) relays raw bytes, which exercises
 * the same pumps, buffers and half-close logic as TLS without a peer
 * library.  Data both ways, half close in either order, backpressure
 * both ways (the relay stops reading one side while the other does not
 * read), the bound on what a session may owe its peer,
 * and an app that goes away (the conn is closed once, nothing leaks). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/conn.h"
#include "keyd/relay.h"
#include "keyd/relay_io.h"
#include "keyd/worker.h"
#include "test/unit/keyd-unit.h"
#include "test/unit/keyd-gen-unit.h"

static struct keyd k;
static struct worker w;
static int net[2], app[2]; /* [0] the daemon's ends, [1] peer and application */

static const char conf_text[] = "[identity a.example.test]\n"
				"key = pkcs11:token=t;object=a;type=private\n"
				"cert = /nonexistent/a.pem\n";

static void setup(void)
{
	memset(&k, 0, sizeof(k));
	memset(&w, 0, sizeof(w));
	k.gen = unit_gen_new(conf_text);
	k.conf = k.gen->conf;
	k.donefd = -1;
	w.k = &k;
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	w.scratch = malloc(RELAY_IO_SCRATCH_SIZE);
	ck_assert(w.epfd >= 0 && w.scratch);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, net), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, app), 0);
}

static void teardown(void)
{
	while (w.grave) {
		struct conn *c = w.grave;
		w.grave = c->next;
		free(c);
	}
	(void)tk_close(net[1]);
	(void)tk_close(app[1]);
	free(w.scratch);
	(void)tk_close(w.epfd);
	gen_unref(k.gen);
}

/* A delivered cleartext session: relaying, the daemon's ends in c. */
static struct conn *relaying(void)
{
	struct conn *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->w = &w;
	c->req.gen = gen_ref(k.gen);
	c->req.id = &k.conf->ids[0];
	c->net = (struct ev){ .kind = EV_NET, .fd = net[0] };
	c->app = (struct ev){ .kind = EV_APP, .fd = app[0] };
	c->ctl = (struct ev){ .kind = EV_CTL, .fd = -1 };
	c->app_out = -1;
	c->state = CONN_RELAY;
	(void)atomic_fetch_add(&k.sessions, 1);
	c->next = w.conns;
	w.conns = c;
	w.n_conns++;
	ck_assert_int_eq(relay_begin(c), CONN_LIVE);
	return c;
}

static void closed_and_released(const struct conn *c)
{
	ck_assert(c->dead);
	ck_assert_ptr_null(w.conns);
	ck_assert_uint_eq(atomic_load(&k.sessions), 0);
	ck_assert_int_eq(c->net.fd, -1);
	ck_assert_int_eq(c->app.fd, -1);
	ck_assert_ptr_null(c->to_app);
	ck_assert_ptr_null(c->to_net);
}

static void put(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_DONTWAIT), (ssize_t)strlen(s));
}

static void get(int fd, const char *want)
{
	char buf[64] = "";
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	ck_assert_str_eq(buf, want);
}

START_TEST(both_ways_and_half_close)
{
	unsigned before = unit_open_fds();
	struct conn *c = relaying();
	char b;

	ck_assert(c->net.mask & EPOLLIN);
	ck_assert(c->app.mask & EPOLLIN);
	put(net[1], "from peer");
	ck_assert_int_eq(relay_event(c, &c->net, EPOLLIN), CONN_LIVE);
	get(app[1], "from peer");
	put(app[1], "from app");
	ck_assert_int_eq(relay_event(c, &c->app, EPOLLIN), CONN_LIVE);
	get(net[1], "from app");
	/* The peer is done sending: the app reads EOF ... */
	ck_assert_int_eq(shutdown(net[1], SHUT_WR), 0);
	ck_assert_int_eq(relay_event(c, &c->net, EPOLLIN | EPOLLRDHUP), CONN_LIVE);
	ck_assert(c->net_eof);
	ck_assert_int_eq(recv(app[1], &b, 1, MSG_DONTWAIT), 0);
	/* ... and may still send. */
	put(app[1], "late reply");
	ck_assert_int_eq(relay_event(c, &c->app, EPOLLIN), CONN_LIVE);
	get(net[1], "late reply");
	/* The app is done too: the peer reads EOF, and the session ends. */
	ck_assert_int_eq(shutdown(app[1], SHUT_WR), 0);
	ck_assert_int_eq(relay_event(c, &c->app, EPOLLIN | EPOLLRDHUP), CONN_CLOSED);
	ck_assert_int_eq(recv(net[1], &b, 1, MSG_DONTWAIT), 0);
	closed_and_released(c);
	/* Events left in the batch for a dead conn are not its handlers' any
	 * more (worker.c drops them); a second close changes nothing. */
	ck_assert_int_eq(conn_close(c, 0, "again"), CONN_CLOSED);
	/* The daemon's two ends are closed; the test's two stay open. */
	ck_assert_uint_eq(unit_open_fds(), before - 2);
}
END_TEST

START_TEST(app_first_half_close)
{
	struct conn *c = relaying();
	char b;

	/* The app shuts down first: the peer gets EOF, the close timer starts,
	 * the peer may still answer. */
	ck_assert_int_eq(shutdown(app[1], SHUT_WR), 0);
	ck_assert_int_eq(relay_event(c, &c->app, EPOLLIN | EPOLLRDHUP), CONN_LIVE);
	ck_assert(c->app_eof && c->bye_done && c->timed);
	ck_assert_int_eq(recv(net[1], &b, 1, MSG_DONTWAIT), 0);
	put(net[1], "answer");
	ck_assert_int_eq(relay_event(c, &c->net, EPOLLIN), CONN_LIVE);
	get(app[1], "answer");
	ck_assert_int_eq(shutdown(net[1], SHUT_WR), 0);
	ck_assert_int_eq(relay_event(c, &c->net, EPOLLIN), CONN_CLOSED);
	closed_and_released(c);
	ck_assert_ptr_null(w.timed);
}
END_TEST

START_TEST(backpressure)
{
	struct conn *c = relaying();
	static uint8_t chunk[4096];
	size_t sent = 0, got = 0;
	uint32_t sum_sent = 0, sum_got = 0;
	int i;

	/* The peer sends until the app's side is full: the relay parks the
	 * rest and stops reading the network. */
	for (i = 0; i < 4096 && !c->to_app; i++) {
		ssize_t n;

		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = (uint8_t)(sent + j);
		n = send(net[1], chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n > 0) {
			for (ssize_t j = 0; j < n; j++)
				sum_sent += chunk[j] * (uint32_t)(sent + (size_t)j + 1);
			sent += (size_t)n;
		}
		ck_assert_int_eq(relay_event(c, &c->net, EPOLLIN), CONN_LIVE);
	}
	ck_assert_msg(c->to_app, "the application side never filled up");
	ck_assert(!(c->net.mask & EPOLLIN));
	ck_assert(c->app.mask & EPOLLOUT);
	/* The app reads again: everything arrives, in order. */
	for (i = 0; i < 100000 && got < sent; i++) {
		ssize_t n = recv(app[1], chunk, sizeof(chunk), MSG_DONTWAIT);

		for (ssize_t j = 0; j < n; j++)
			sum_got += chunk[j] * (uint32_t)(got + (size_t)j + 1);
		if (n > 0)
			got += (size_t)n;
		ck_assert_int_eq(relay_event(c, c->to_app ? &c->app : &c->net,
					     c->to_app ? EPOLLOUT : EPOLLIN), CONN_LIVE);
	}
	ck_assert_uint_eq(got, sent);
	ck_assert_uint_eq(sum_got, sum_sent);
	ck_assert_ptr_null(c->to_app);
	ck_assert(c->net.mask & EPOLLIN);
	ck_assert_int_eq(conn_close(c, 0, "test over"), CONN_CLOSED);
	closed_and_released(c);
}
END_TEST

/* The other way: the app writes while the peer does not read.  What the
 * peer has not taken waits in to_net, the relay stops reading the app and
 * waits for the network to take more; then everything arrives in order. */
START_TEST(net_backpressure)
{
	struct conn *c = relaying();
	static uint8_t chunk[4096];
	size_t sent = 0, got = 0;
	uint32_t sum_sent = 0, sum_got = 0;
	int i;

	for (i = 0; i < 4096 && !c->to_net; i++) {
		ssize_t n;

		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = (uint8_t)(sent + j * 7);
		n = send(app[1], chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n > 0) {
			for (ssize_t j = 0; j < n; j++)
				sum_sent += chunk[j] * (uint32_t)(sent + (size_t)j + 1);
			sent += (size_t)n;
		}
		ck_assert_int_eq(relay_event(c, &c->app, EPOLLIN), CONN_LIVE);
	}
	ck_assert_msg(c->to_net, "the network side never filled up");
	ck_assert_uint_le(c->to_net_len, RELAY_IO_PLAIN_CAP);
	ck_assert(!(c->app.mask & EPOLLIN));
	ck_assert(c->net.mask & EPOLLOUT);
	for (i = 0; i < 100000 && got < sent; i++) {
		ssize_t n = recv(net[1], chunk, sizeof(chunk), MSG_DONTWAIT);

		for (ssize_t j = 0; j < n; j++)
			sum_got += chunk[j] * (uint32_t)(got + (size_t)j + 1);
		if (n > 0)
			got += (size_t)n;
		ck_assert_int_eq(relay_event(c, c->to_net ? &c->net : &c->app,
					     c->to_net ? EPOLLOUT : EPOLLIN), CONN_LIVE);
	}
	ck_assert_uint_eq(got, sent);
	ck_assert_uint_eq(sum_got, sum_sent);
	ck_assert_ptr_null(c->to_net);
	ck_assert(c->app.mask & EPOLLIN);
	ck_assert_int_eq(conn_close(c, 0, "test over"), CONN_CLOSED);
	closed_and_released(c);
}
END_TEST

/* What a session may owe its peer is bounded, and kept in order. */
START_TEST(stash_bound)
{
	struct conn *c = relaying();
	static uint8_t big[2 * RELAY_IO_TX_CAP + 1];

	ck_assert_int_eq(relay_io_stash(c, (const uint8_t *)"abc", 3), 0);
	ck_assert_int_eq(relay_io_stash(c, (const uint8_t *)"def", 3), 0);
	ck_assert_uint_eq(c->to_net_len, 6);
	ck_assert_int_eq(memcmp(c->to_net, "abcdef", 6), 0);
	ck_assert_int_eq(relay_io_stash(c, big, sizeof(big) - 6), -ENOBUFS);
	ck_assert_uint_eq(c->to_net_len, 6); /* unchanged by the refusal */
	ck_assert_int_eq(relay_io_stash(c, big, sizeof(big) - 7), 0);
	ck_assert_int_eq(relay_io_stash(c, big, 1), -ENOBUFS);
	ck_assert_int_eq(conn_close(c, 0, "test over"), CONN_CLOSED);
	closed_and_released(c);
}
END_TEST

START_TEST(app_gone)
{
	unsigned before;
	struct conn *c = relaying();
	char b;

	before = unit_open_fds();
	/* The application closes its descriptor; the peer's next bytes
	 * cannot be delivered: the session ends, the peer sees EOF. */
	(void)tk_close(app[1]);
	app[1] = -1;
	put(net[1], "nobody listens");
	ck_assert_int_eq(relay_event(c, &c->net, EPOLLIN), CONN_CLOSED);
	ck_assert(c->failed);
	closed_and_released(c);
	ck_assert_int_eq(recv(net[1], &b, 1, MSG_DONTWAIT), 0);
	/* app[1], and the daemon's two ends, are gone. */
	ck_assert_uint_eq(unit_open_fds(), before - 3);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { both_ways_and_half_close, app_first_half_close, backpressure,
				 net_backpressure, stash_bound, app_gone, NULL };

	return tkt_run("relay", "/keyd/relay", setup, teardown, 0, tests);
}
