/* tk-threads: many threads of one process start TLS at the same time, in
 * both roles, through tlskeyd.  Checks that libtlskey keeps no global
 * state that breaks under concurrency and that the daemon runs handshakes
 * in parallel.  Usage: tk-threads PAIRS
 * Each pair is a server thread (starttls_server as server.example.test)
 * and a client thread (starttls_client as alice@example.test) talking over
 * loopback TCP; each client sends its own message and expects it echoed.
 * TK_THREADS_STACK_KIB=N gives every thread a stack of N KiB (the
 * library must fit in a small one).  Exit 0 when every pair worked. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#define MAX_PAIRS 64

struct pair {
	int index;
	int lfd;
	unsigned short port;
	int ok_server, ok_client;
	char err[512];
};

static pthread_barrier_t start;

static void *server_main(void *arg)
{
	struct pair *p = arg;
	char peer[128], buf[256];
	int fd, tls;
	ssize_t n;

	fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	tls = starttls_server(fd, IPPROTO_TCP, "server.example.test", 0, NULL, peer, sizeof(peer));
	if (tls < 0) {
		snprintf(p->err, sizeof(p->err), "server %d: %s: %s", p->index, strerror(errno),
			 tlskey_last_error());
		return NULL;
	}
	n = read(tls, buf, sizeof(buf));
	if (n > 0 && write(tls, buf, (size_t)n) == n && !strcmp(peer, "alice@example.test"))
		p->ok_server = 1;
	close(tls);
	return NULL;
}

static void *client_main(void *arg)
{
	struct pair *p = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->port) };
	char peer[128], msg[64], buf[256];
	int fd, tls, len;
	ssize_t n, got = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pthread_barrier_wait(&start);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return NULL;
	tls = starttls_client(fd, IPPROTO_TCP, "alice@example.test", 0, "server.example.test", peer,
			      sizeof(peer));
	if (tls < 0) {
		snprintf(p->err, sizeof(p->err), "client %d: %s: %s", p->index, strerror(errno),
			 tlskey_last_error());
		return NULL;
	}
	len = snprintf(msg, sizeof(msg), "pair %d says hello", p->index);
	if (write(tls, msg, (size_t)len) != len)
		return NULL;
	while (got < len && (n = read(tls, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += n;
	if (got == len && !memcmp(buf, msg, (size_t)len) && !strcmp(peer, "server.example.test"))
		p->ok_client = 1;
	close(tls);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct pair pairs[MAX_PAIRS];
	pthread_t st[MAX_PAIRS], ct[MAX_PAIRS];
	int n = argc > 1 ? atoi(argv[1]) : 8, failed = 0;

	if (n < 1 || n > MAX_PAIRS) {
		fprintf(stderr, "usage: %s PAIRS (1..%d)\n", argv[0], MAX_PAIRS);
		return 2;
	}
	pthread_barrier_init(&start, NULL, (unsigned)n);
	pthread_attr_t attr;
	const char *kib = getenv("TK_THREADS_STACK_KIB");

	pthread_attr_init(&attr);
	if (kib && pthread_attr_setstacksize(&attr, (size_t)atoi(kib) * 1024) != 0) {
		fprintf(stderr, "bad TK_THREADS_STACK_KIB %s\n", kib);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		pairs[i].index = i;
		pairs[i].lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (pairs[i].lfd < 0 || bind(pairs[i].lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(pairs[i].lfd, 1) < 0 ||
		    getsockname(pairs[i].lfd, (struct sockaddr *)&sa, &sl) < 0) {
			perror("listen");
			return 1;
		}
		pairs[i].port = ntohs(sa.sin_port);
		if (pthread_create(&st[i], &attr, server_main, &pairs[i]) != 0 ||
		    pthread_create(&ct[i], &attr, client_main, &pairs[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(ct[i], NULL);
		pthread_join(st[i], NULL);
		close(pairs[i].lfd);
		if (!pairs[i].ok_client || !pairs[i].ok_server) {
			fprintf(stderr, "pair %d failed: %s\n", i, pairs[i].err[0] ? pairs[i].err : "bad data");
			failed++;
		}
	}
	printf("%d pairs, %d failed\n", n, failed);
	return failed ? 1 : 0;
}
