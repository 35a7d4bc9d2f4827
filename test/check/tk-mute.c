/* tk-mute SOCKET SECONDS: a daemon that accepts and never answers.
 *
 * Listens on a new SOCK_SEQPACKET UNIX socket at SOCKET (the path must not
 * exist) and on a TCP port of 127.0.0.1 (something for the application's
 * socket to be connected to: the kernel completes connections into the
 * backlog, never accepted), prints "PORT n" and "LISTENING" once it does, accepts every connection and
 * keeps it open without reading or writing, and exits after SECONDS (the
 * bound: a test that forgets it does not leave it running) or on SIGTERM.
 * It unlinks SOCKET on exit.  Used by test/check/lib-timeout.sh. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_HELD 64

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int held[MAX_HELD], n_held = 0, fd;
	long secs;
	time_t end;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path) || (secs = strtol(argv[2], NULL, 10)) <= 0 ||
	    secs > 600) {
		(void)fprintf(stderr, "usage: tk-mute SOCKET SECONDS (1..600)\n");
		return 2;
	}
	(void)signal(SIGTERM, on_term);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		(void)fprintf(stderr, "tk-mute: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	{
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(in);
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (t < 0 || bind(t, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(t, 16) < 0 ||
		    getsockname(t, (struct sockaddr *)&in, &len) < 0) {
			(void)fprintf(stderr, "tk-mute: TCP listener: %s\n", strerror(errno));
			return 1;
		}
		(void)printf("PORT %u\n", (unsigned)ntohs(in.sin_port));
		/* t stays open until exit: connections wait in its backlog. */
	}
	(void)printf("LISTENING\n");
	(void)fflush(stdout);
	end = time(NULL) + secs;
	while (!stop && time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 200) > 0) {
			int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

			/* Held, never read: the request sits unanswered. */
			if (c >= 0 && n_held < MAX_HELD)
				held[n_held++] = c;
			else if (c >= 0)
				(void)close(c);
		}
	}
	for (int i = 0; i < n_held; i++)
		(void)close(held[i]);
	(void)close(fd);
	(void)unlink(argv[1]);
	return 0;
}
