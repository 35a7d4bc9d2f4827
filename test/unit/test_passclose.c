/* Unit tests for keyd/passclose.c: a close that would wait for an hour on
 * SO_LINGER set by a caller returns within its bound, and the descriptor
 * is gone.  Without the bound the test case hangs and Check's timeout
 * fails it. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

/* A loopback TCP connection whose sending end has a full send queue (the
 * receiver never reads) and SO_LINGER {1, 3600}: closing it waits. */
static int lingering_socket(int *ret_receiver)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct linger lg = { .l_onoff = 1, .l_linger = 3600 };
	static char buf[65536];
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
	while (send(cs, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		;
	ck_assert_int_eq(setsockopt(cs, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	*ret_receiver = as;
	return cs;
}

START_TEST(linger_close_bounded)
{
	for (int round = 0; round < 3; round++) {
		int receiver, fd = lingering_socket(&receiver);
		long long t0 = now_ms(), spent;

		ck_assert_int_eq(passclose(fd), -1);
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

int main(void)
{
	const TTest *tests[] = { linger_close_bounded, ordinary_close, NULL };

	return tkt_run("passclose", "/keyd/passclose", NULL, NULL, 20, tests);
}
