/* tk-app: moving bytes: the stream and datagram relays, the silent sink
 * and the splice mode, and address parsing.  See tk-app.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "common/wire.h"
#include "test/lib/tkt.h"
#include "test/softhsm/tk-app.h"

struct pipebuf {
	char data[RELAY_BUF];
	size_t len, off;
	int eof; /* source finished */
	unsigned long long sent; /* bytes written to the sink in all */
	unsigned long long got;  /* bytes read from the source in all */
};

/* One direction, source -> sink.  Returns 0, or -1 with errno on error.
 * `shut` is called once the source hit EOF and all was written. */
static int pump(int src, int sink, struct pipebuf *b, short src_rev, short sink_rev, int *done,
		int shut_sink)
{
	ssize_t n;

	if (*done)
		return 0;
	if (b->len == b->off && !b->eof && (src_rev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(src, b->data, sizeof(b->data));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return -1;
		if (n == 0)
			b->eof = 1;
		b->got += (unsigned long long)n;
		/* --bytes-after: the query comes before these bytes go on. */
		if (src != STDIN_FILENO)
			sess_down_bytes(src, b->got);
		b->len = (size_t)n;
		b->off = 0;
	}
	if (b->len > b->off && (sink_rev & (POLLOUT | POLLERR | POLLHUP))) {
		n = write(sink, b->data + b->off, b->len - b->off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return -1;
		b->off += (size_t)n;
		b->sent += (unsigned long long)n;
	}
	if (b->eof && b->off == b->len) {
		if (shut_sink && shutdown(sink, SHUT_WR) < 0 && errno != ENOTCONN)
			return -1;
		*done = 1;
	}
	return 0;
}

static volatile sig_atomic_t shut_rd_fd = -1;

static void on_usr2(int sig)
{
	int e = errno;

	(void)sig;
	if (shut_rd_fd >= 0)
		(void)shutdown(shut_rd_fd, SHUT_RD);
	errno = e;
}

/* Relay stdin -> pfd and pfd -> stdout (or pfd -> pfd with echo) until
 * both directions saw EOF.  Takes ownership of pfd. */
int relay(int pfd, int echo, int use_stdin)
{
	static struct pipebuf up, down;
	int up_done = echo || !use_stdin, down_done = 0;
	int out = echo ? pfd : STDOUT_FILENO;
	int rc = 0;

	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	if (tkt_nonblock_set(pfd) < 0)
		fail("fcntl");
	if (tkapp_shut_rd_usr2) {
		struct sigaction sa = { .sa_handler = on_usr2, .sa_flags = SA_RESTART };

		shut_rd_fd = pfd;
		if (sigaction(SIGUSR2, &sa, NULL) < 0)
			fail("sigaction");
		(void)fprintf(stderr, "SHUT-RD-READY\n");
	}
	if (!echo && !use_stdin && shutdown(pfd, SHUT_WR) < 0)
		fail("shutdown");
	while (!up_done || !down_done) {
		struct pollfd p[3];
		int np = 0, i_in = -1, i_pout = -1, i_pin = -1, i_out = -1;

		if (!up_done) {
			if (up.len == up.off && !up.eof) {
				p[np] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
				i_in = np++;
			} else {
				p[np] = (struct pollfd){ .fd = pfd, .events = POLLOUT };
				i_pout = np++;
			}
		}
		if (!down_done) {
			if (down.len == down.off && !down.eof) {
				p[np] = (struct pollfd){ .fd = pfd, .events = POLLIN };
				i_pin = np++;
			} else {
				p[np] = (struct pollfd){ .fd = out, .events = POLLOUT };
				i_out = np++;
			}
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll");
		}
		if (pump(STDIN_FILENO, pfd, &up, i_in >= 0 ? p[i_in].revents : 0,
			 i_pout >= 0 ? p[i_pout].revents : POLLOUT, &up_done, 1) < 0) {
			(void)fprintf(stderr, "RELAY-ERROR send: %s (%s)\n", strerror(errno),
				      tkt_errno_name(errno));
			rc = EXIT_RELAY;
			break;
		}
		sess_up_bytes(pfd, up.sent);
		if (pump(pfd, out, &down, i_pin >= 0 ? p[i_pin].revents : 0,
			 i_out >= 0 ? p[i_out].revents : POLLOUT, &down_done, echo) < 0) {
			(void)fprintf(stderr, "RELAY-ERROR receive: %s (%s)\n", strerror(errno),
				      tkt_errno_name(errno));
			rc = EXIT_RELAY;
			break;
		}
	}
	if (tkapp_query_at_end) {
		/* How did the session end?  A peer that vanished without
		 * close_notify looks like EOF here; the daemon knows better. */
		struct tlskey_info *info = calloc(1, sizeof(*info));

		if (info && tlskey_query(pfd, info) == 0)
			(void)fprintf(stderr, "ENDSTATE=%s\n", state_name(info->state));
		else
			(void)fprintf(stderr, "ENDSTATE=gone (%s)\n", tkt_errno_name(errno));
		free(info);
	}
	if (close(pfd) < 0 && rc == 0) {
		(void)fprintf(stderr, "RELAY-ERROR close: %s\n", strerror(errno));
		rc = EXIT_RELAY;
	}
	return rc;
}

/* DTLS relay: every stdin line (newline included) is one datagram on the
 * SOCK_SEQPACKET protected descriptor; every datagram received goes to
 * stdout (or back, with echo) and is logged as "DGRAM len=N".  Ends when
 * `want` datagrams arrived (0: as many as were sent, once stdin is done),
 * or at EOF.  Takes ownership of pfd. */
int relay_dgram(int pfd, int echo, int use_stdin, unsigned want)
{
	static char in[64 * 1024], buf[64 * 1024];
	size_t inlen = 0;
	unsigned sent = 0, got = 0;
	int in_eof = !use_stdin, rc = 0;

	for (;;) {
		struct pollfd p[2];
		int np = 0, i_pfd;
		ssize_t n;

		if (in_eof && (want ? got >= want : (!echo && got >= sent)))
			break;
		p[np++] = (struct pollfd){ .fd = pfd, .events = POLLIN };
		i_pfd = 0;
		if (!in_eof)
			p[np++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll");
		}
		if (np > 1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char *nl;

			n = read(STDIN_FILENO, in + inlen, sizeof(in) - inlen);
			if (n < 0 && errno != EINTR)
				fail("read stdin");
			if (n == 0)
				in_eof = 1;
			if (n > 0)
				inlen += (size_t)n;
			while ((nl = memchr(in, '\n', inlen)) || (in_eof && inlen) || inlen == sizeof(in)) {
				size_t len = nl ? (size_t)(nl - in) + 1 : inlen;
				/* --empty-dgrams: a blank line is a datagram of 0 bytes,
				 * which no answer follows. */
				int empty = tkapp_empty_dgrams && len == 1 && in[0] == '\n';

				if (send(pfd, in, empty ? 0 : len, MSG_NOSIGNAL) < 0) {
					(void)fprintf(stderr, "RELAY-ERROR send: %s (%s)\n", strerror(errno),
						      tkt_errno_name(errno));
					rc = EXIT_RELAY;
					goto out;
				}
				if (!empty)
					sent++;
				memmove(in, in + len, inlen - len);
				inlen -= len;
			}
		}
		if (p[i_pfd].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(pfd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				(void)fprintf(stderr, "RELAY-ERROR receive: %s (%s)\n", strerror(errno),
					      tkt_errno_name(errno));
				rc = EXIT_RELAY;
				break;
			}
			if (n == 0) {
				(void)fprintf(stderr, "DGRAM-EOF\n");
				break;
			}
			got++;
			(void)fprintf(stderr, "DGRAM len=%zd\n", n);
			if (echo ? send(pfd, buf, (size_t)n, MSG_NOSIGNAL) != n
				 : write(STDOUT_FILENO, buf, (size_t)n) != n) {
				(void)fprintf(stderr, "RELAY-ERROR %s: %s\n", echo ? "echo" : "stdout",
					      strerror(errno));
				rc = EXIT_RELAY;
				break;
			}
		}
	}
out:
	(void)fprintf(stderr, "DGRAMS sent=%u received=%u\n", sent, got);
	if (close(pfd) < 0 && rc == 0)
		rc = EXIT_RELAY;
	return rc;
}

/* Parse "127.0.0.1:PORT" or "[::1]:PORT". */
struct addrinfo *parse_addr(const char *spec, int passive)
{
	char host[128];
	const char *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	struct addrinfo *ai;
	int r;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host))
			usage("bad address %s", spec);
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			usage("bad address %s", spec);
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0)
		usage("bad address %s: %s", spec, gai_strerror(r));
	return ai;
}

/* A remote peer that says nothing: handshake timers, cleartext fallback.
 * It listens (--listen) or connects (--connect); with --reply it answers
 * in cleartext once a whole line arrived. */
int run_sink(const struct opts *o)
{
	struct addrinfo *ai;
	char buf[4096];
	const char *end = "eof";
	int lsock = -1, fd, one = 1, replied = 0;
	long long t0;
	ssize_t n;

	if (!o->listen && !o->connect)
		usage("sink needs --listen or --connect");
	if (o->connect) {
		ai = parse_addr(o->connect, 0);
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
			fail("connect");
		freeaddrinfo(ai);
	} else {
		ai = parse_addr(o->listen, 1);
		lsock = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lsock < 0)
			fail("socket");
		(void)setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lsock, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lsock, 4) < 0)
			fail("bind");
		freeaddrinfo(ai);
		if (o->port_file)
			tkt_port_file_write(o->port_file, lsock);
		fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			fail("accept");
	}
	t0 = tkt_now_ms();
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			fail("write");
		if (o->reply && !replied && memchr(buf, '\n', (size_t)n)) {
			size_t len = strlen(o->reply);

			replied = 1;
			if (write(fd, o->reply, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
			    shutdown(fd, SHUT_WR) < 0)
				(void)fprintf(stderr, "SINK reply failed: %s\n", strerror(errno));
		}
	}
	if (n < 0) {
		static char tmp[64];

		(void)snprintf(tmp, sizeof(tmp), "error:%s", tkt_errno_name(errno));
		end = errno == ECONNRESET ? "reset" : tmp;
	}
	(void)fprintf(stderr, "SINK end=%s\nSINK ms=%lld\nSINK closed\n", end, tkt_now_ms() - t0);
	(void)close(fd);
	if (lsock >= 0)
		(void)close(lsock);
	return 0;
}

/* Connect to two TCP servers and relay bytes between them, half-close
 * included: lets an accepting tk-app (TLS client role, --role-swap) talk
 * to a real TLS server such as gnutls-serv. */
static int connect_to(const char *spec)
{
	struct addrinfo *ai = parse_addr(spec, 0);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		fail("connect");
	freeaddrinfo(ai);
	return fd;
}

int run_splice(const struct opts *o)
{
	static char buf[2][RELAY_BUF];
	size_t len[2] = { 0, 0 }, off[2] = { 0, 0 };
	int fd[2], eof[2] = { 0, 0 };

	if (!o->connect || !o->to)
		usage("splice needs --connect ADDR and --to ADDR");
	fd[0] = connect_to(o->connect);
	fd[1] = connect_to(o->to);
	while (!(eof[0] && eof[1] && len[0] == off[0] && len[1] == off[1])) {
		struct pollfd p[2];

		/* Direction d: read fd[d], write fd[1 - d]. */
		for (int d = 0; d < 2; d++)
			p[d] = (struct pollfd){ .fd = fd[d], .events = 0 };
		for (int d = 0; d < 2; d++) {
			if (len[d] > off[d])
				p[1 - d].events |= POLLOUT;
			else if (!eof[d])
				p[d].events |= POLLIN;
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll");
		}
		for (int d = 0; d < 2; d++) {
			ssize_t n;

			if (len[d] == off[d] && !eof[d] && (p[d].revents & (POLLIN | POLLHUP | POLLERR))) {
				n = read(fd[d], buf[d], sizeof(buf[d]));
				if (n <= 0) {
					eof[d] = 1;
					(void)shutdown(fd[1 - d], SHUT_WR);
					continue;
				}
				len[d] = (size_t)n;
				off[d] = 0;
			}
			if (len[d] > off[d] && (p[1 - d].revents & (POLLOUT | POLLERR | POLLHUP))) {
				n = send(fd[1 - d], buf[d] + off[d], len[d] - off[d], MSG_NOSIGNAL);
				if (n < 0) {
					(void)fprintf(stderr, "SPLICE write: %s\n", strerror(errno));
					return EXIT_RELAY;
				}
				off[d] += (size_t)n;
				if (off[d] == len[d])
					len[d] = off[d] = 0;
			}
		}
	}
	(void)fprintf(stderr, "SPLICE done\n");
	(void)close(fd[0]);
	(void)close(fd[1]);
	return 0;
}
