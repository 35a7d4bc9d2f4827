/* Unit tests for keyd/passclose.c: a close that would wait for an hour on
 * SO_LINGER set by a caller returns within its bound, and the descriptor
 * is gone.  Without the bound the test case hangs and Check's timeout
 * fails it.  The SO_LINGER that passclose_linger() sets before the close
 * overrides the caller's: an orderly end where the caller asked for a
 * reset, a reset where it asked to linger. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "keyd/passclose.h"
#include "test/unit/check-main.h"

static long long now_ms(void)
{
	struct timespec t;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &t), 0);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A loopback TCP connection: returns the sending end, *ret_receiver the other. */
static int tcp_pair(int *ret_receiver)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int ls, cs, as;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ls, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(ls, 1), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &len), 0);
	cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(cs, 0);
	ck_assert_int_eq(connect(cs, (struct sockaddr *)&a, sizeof(a)), 0);
	as = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(as, 0);
	ck_assert_int_eq(close(ls), 0);
	*ret_receiver = as;
	return cs;
}

static void set_linger(int fd, int on, int sec)
{
	struct linger lg = { .l_onoff = on, .l_linger = sec };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
}

/* A loopback TCP connection whose sending end has a full send queue (the
 * receiver never reads) and SO_LINGER {1, 3600}: closing it waits. */
static int lingering_socket(int *ret_receiver)
{
	static char buf[65536];
	int cs = tcp_pair(ret_receiver);

	while (send(cs, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		;
	set_linger(cs, 1, 3600);
	return cs;
}

/* recv() on fd after waiting (bounded) for it to become readable. */
static ssize_t recv_within(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	return recv(fd, buf, len, MSG_DONTWAIT);
}

START_TEST(linger_close_bounded)
{
	for (int round = 0; round < 3; round++) {
		int receiver, fd = lingering_socket(&receiver);
		long long t0 = now_ms(), spent;

		ck_assert_int_eq(passclose_linger(fd, PASSCLOSE_AS_IS), -1);
		spent = now_ms() - t0;
		/* The bound is PASSCLOSE_MAX_MS; allow a loaded machine ten times that. */
		ck_assert_msg(spent < 10 * PASSCLOSE_MAX_MS, "close took %lld ms", spent);
		ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
		ck_assert_int_eq(errno, EBADF);
		ck_assert_int_eq(close(receiver), 0);
	}
	passclose_thread_done();
	passclose_thread_done();
}
END_TEST

/* The caller asked for a reset ({1, 0}); passclose() ends in order: the
 * peer reads what was sent, then a clean EOF. */
START_TEST(orderly_overrides_reset)
{
	char buf[16];
	int receiver, fd = tcp_pair(&receiver);

	set_linger(fd, 1, 0);
	ck_assert_int_eq(send(fd, "hello", 5, MSG_NOSIGNAL), 5);
	ck_assert_int_eq(passclose(fd), -1);
	ck_assert_int_eq(recv_within(receiver, buf, sizeof(buf)), 5);
	ck_assert_int_eq(recv_within(receiver, buf, sizeof(buf)), 0);
	ck_assert_int_eq(close(receiver), 0);
	passclose_thread_done();
}
END_TEST

/* The caller asked to linger for an hour on an idle socket (its close
 * would send FIN at once); PASSCLOSE_RESET resets it, without waiting. */
START_TEST(reset_overrides_linger)
{
	char buf[16];
	int receiver, fd = tcp_pair(&receiver);
	long long t0 = now_ms(), spent;

	set_linger(fd, 1, 3600);
	ck_assert_int_eq(passclose_linger(fd, PASSCLOSE_RESET), -1);
	spent = now_ms() - t0;
	ck_assert_msg(spent < 10 * PASSCLOSE_MAX_MS, "close took %lld ms", spent);
	errno = 0;
	ck_assert_int_eq(recv_within(receiver, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ECONNRESET);
	ck_assert_int_eq(close(receiver), 0);
	passclose_thread_done();
}
END_TEST

START_TEST(ordinary_close)
{
	int p[2];

	ck_assert_int_eq(passclose(-1), -1);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(passclose(p[0]), -1);
	ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
	/* The write end sees the read end gone: it really was closed. */
	ck_assert_int_eq(passclose(p[1]), -1);
	ck_assert_int_eq(fcntl(p[1], F_GETFD), -1);
	passclose_thread_done();
}
END_TEST

/* A UNIX socket holding a lingering socket in its receive queue, the
 * only reference to it: closing the holder waits as the lingering close
 * would. */
static int lingering_holder(int *ret_receiver)
{
	int cs = lingering_socket(ret_receiver), sv[2];
	char x = 'x';
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = &x, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &cs, sizeof(int));
	ck_assert_int_eq(sendmsg(sv[0], &mh, 0), 1);
	ck_assert_int_eq(close(cs), 0); /* the queued reference stays */
	ck_assert_int_eq(close(sv[0]), 0);
	return sv[1];
}

/* With the closer threads on, passclose() returns before a lingering
 * close is done (a UNIX socket holding a lingering one), an AF_INET socket
 * is still closed on the spot, as passclose_here() closes anything, and
 * each descriptor is closed within a bounded time all the same.  (Tests
 * run each in a process of their own: the closers do not outlive it.) */
START_TEST(closer_threads)
{
	int receivers[4], fds[4];
	long long t0, spent;

	ck_assert_int_eq(passclose_start(), 0);
	{
		int receiver, fd = tcp_pair(&receiver);

		ck_assert_int_eq(passclose(fd), -1);
		ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* AF_INET: on the spot */
		ck_assert_int_eq(close(receiver), 0);
	}
	{
		/* The holder's close does wait (on the spot: until the timer). */
		int receiver, fd = lingering_holder(&receiver);

		t0 = now_ms();
		ck_assert_int_eq(passclose_here(fd, PASSCLOSE_AS_IS), -1);
		spent = now_ms() - t0;
		ck_assert_msg(spent >= PASSCLOSE_MAX_MS / 2, "a holder's close took only %lld ms", spent);
		ck_assert_int_eq(close(receiver), 0);
	}
	for (int i = 0; i < 4; i++)
		fds[i] = lingering_holder(&receivers[i]);
	t0 = now_ms();
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(passclose_linger(fds[i], PASSCLOSE_AS_IS), -1);
	spent = now_ms() - t0;
	/* 4 closes of 100 ms each, handed off: far less than one of them. */
	ck_assert_msg(spent < PASSCLOSE_MAX_MS / 2, "4 handed-off closes took %lld ms", spent);
	for (int i = 0; i < 4; i++) {
		int gone = 0;

		for (int k = 0; k < 500 && !gone; k++) {
			gone = fcntl(fds[i], F_GETFD) == -1 && errno == EBADF;
			if (!gone)
				(void)poll(NULL, 0, 10);
		}
		ck_assert_msg(gone, "descriptor %d still open after 5 s", i);
		ck_assert_int_eq(close(receivers[i]), 0);
	}
	{
		int p[2];

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		ck_assert_int_eq(passclose_here(p[0], PASSCLOSE_AS_IS), -1);
		ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
		ck_assert_int_eq(close(p[1]), 0);
	}
	passclose_stop();
	{
		int p[2];

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		ck_assert_int_eq(passclose(p[0]), -1);
		ck_assert_int_eq(fcntl(p[0], F_GETFD), -1); /* stopped: on the spot again */
		ck_assert_int_eq(close(p[1]), 0);
	}
	passclose_thread_done();
}
END_TEST

int main(void)
{
	const TTest *tests[] = { linger_close_bounded, orderly_overrides_reset, reset_overrides_linger,
				ordinary_close, closer_threads, NULL };

	return tkt_run("passclose", "/keyd/passclose", NULL, NULL, 20, tests);
}
