/* tk-bench-app: the application side of the benchmarks (bench/run.sh).
 * It accepts TCP connections and hands each to tlskeyd with
 * starttls_server() (server-only authentication: the benchmark client has
 * no certificate), or, with --plain, uses the TCP socket as it is (the
 * backend behind stunnel, and the plain-TCP baseline).
 *
 *   tk-bench-app hs|hold|bulk --port-file F [--myname N] [--threads T]
 *                [--bytes B] [--plain]
 *   hs    close the protected descriptor at once
 *   hold  keep every protected descriptor open until killed
 *   bulk  write B bytes while reading to EOF, then close
 *
 * Listens on 127.0.0.1, port chosen by the kernel, written to F. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tlskey/starttls.h>

static int lsock;
static const char *mode;
static char *myname = "server.example.test";
static unsigned long long bytes;
static int plain;

static void die(const char *what)
{
	(void)fprintf(stderr, "tk-bench-app: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *writer(void *arg)
{
	static char buf[65536];
	int fd = (int)(long)arg;
	unsigned long long done = 0;

	memset(buf, 'y', sizeof(buf));
	while (done < bytes) {
		size_t len = bytes - done > sizeof(buf) ? sizeof(buf) : (size_t)(bytes - done);
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		done += (unsigned long long)n;
	}
	(void)shutdown(fd, SHUT_WR);
	return NULL;
}

static void bulk(int fd)
{
	static __thread char buf[65536];
	pthread_t th;

	if (pthread_create(&th, NULL, writer, (void *)(long)fd) != 0)
		die("pthread_create");
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	(void)pthread_join(th, NULL);
}

static void *acceptor(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC), pfd;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		if (plain) {
			pfd = fd;
		} else {
			/* fd is consumed by starttls_server() in every case. */
			pfd = starttls_server(fd, IPPROTO_TCP, myname, TLSKEY_FLAG_NO_REQUEST_PEER_CERT, NULL,
					      NULL, 0);
			if (pfd < 0) {
				(void)fprintf(stderr, "tk-bench-app: starttls_server: %s: %s\n", strerror(errno),
					      tlskey_last_error());
				continue;
			}
		}
		if (!strcmp(mode, "hold"))
			continue; /* the descriptor stays open: an idle session */
		if (!strcmp(mode, "bulk"))
			bulk(pfd);
		(void)close(pfd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	const char *port_file = NULL;
	unsigned threads = 4;
	int one = 1;
	FILE *f;
	struct rlimit rl;

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("usage: hs|hold|bulk --port-file F [--myname N] [--threads T] [--bytes B] [--plain]");
	mode = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--myname") && i + 1 < argc)
			myname = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
			bytes = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--plain"))
			plain = 1;
		else
			die(argv[i]);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0)
		die("socket");
	(void)setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 4096) < 0 ||
	    getsockname(lsock, (struct sockaddr *)&sa, &sl) < 0)
		die("listen");
	if (port_file) {
		char tmp[4096];

		(void)snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "we");
		if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) < 0)
			die(port_file);
	}
	for (unsigned i = 1; i < threads; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, acceptor, NULL) != 0)
			die("pthread_create");
	}
	(void)acceptor(NULL);
	return 0;
}
