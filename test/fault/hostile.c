/* hostile: misbehaving clients of tlskeyd and misbehaving TLS peers, for
 * the fault tests (the scripts in test/fault/).
 *
 *   hostile flood SOCKET N KIND WAIT_MS
 *       Open N connections to the daemon socket at once.  KIND: silent
 *       (never send anything), garbage (random bytes), half (the first
 *       half of a START record), mix (round robin of the three).  Then wait
 *       up to WAIT_MS for every connection to be answered or closed, and
 *       print "FLOOD n=.. answered=.. closed=.. silent=.. refused=.."
 *       plus one "ERRNO name=count" line per errno seen.  Exit 0 if every
 *       connection was answered or closed, 5 if some were left hanging.
 *   hostile silent SOCKET WAIT_MS
 *       One connection that never speaks; prints "SILENT errno=NAME ms=T"
 *       when the daemon answers (exit 0), exit 5 if it does not.
 *   hostile peer MODE ADDR:PORT [--cert F --key F] [--ca F] [--hold SEC] [--bytes N]
 *       A remote TLS client towards an app server behind tlskeyd.  MODE:
 *       garbage   send random bytes instead of a ClientHello
 *       reset     send a ClientHello, read the server's first flight, RST
 *       stall     send a ClientHello, then say nothing for --hold seconds
 *       truncate  full handshake, send "hello\n", close TCP without
 *                 close_notify
 *       rst-data  full handshake, send "hello\n", reset the connection
 *       With --bytes N, truncate and rst-data send N bytes of a pattern
 *       after "hello\n" and print their SHA-256 first.
 *       Prints what happened; exit 0 unless a local error occurred.
 *   hostile slowcat BYTES_PER_SEC
 *       Copy stdin to stdout at about that rate: a slow reader.
 *
 * Only loopback addresses are used by the tests.  Every wait is bounded. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/wire.h"
#include "test/lib/tkt.h"

static void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rand() >> 7);
}

/* Raise RLIMIT_NOFILE so that N connections fit. */
static void want_fds(unsigned n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#define MAX_ERRNO 256

static int run_flood(const char *path, unsigned n, const char *kind, int wait_ms)
{
	struct pollfd *p = calloc(n, sizeof(*p));
	unsigned answered = 0, closed = 0, refused = 0, left, errs[MAX_ERRNO] = { 0 };
	uint8_t buf[TK_WIRE_MAX_MSG];
	size_t start_len = tkt_start_msg(buf, sizeof(buf), "alice@example.test");
	long long deadline;

	if (!p)
		tkt_die("calloc");
	want_fds(n);
	for (unsigned i = 0; i < n; i++) {
		const char *k = kind;
		uint8_t junk[300];

		if (strcmp(kind, "mix") == 0)
			k = i % 3 == 0 ? "silent" : i % 3 == 1 ? "garbage" : "half";
		p[i].fd = tkt_unix_connect(path, SOCK_SEQPACKET);
		p[i].events = POLLIN;
		if (p[i].fd < 0) {
			/* A full backlog is an answer too: the daemon is protecting itself. */
			refused++;
			continue;
		}
		if (strcmp(k, "garbage") == 0) {
			random_bytes(junk, sizeof(junk));
			(void)send(p[i].fd, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
		} else if (strcmp(k, "half") == 0) {
			(void)send(p[i].fd, buf, start_len / 2, MSG_NOSIGNAL | MSG_DONTWAIT);
		} else if (strcmp(k, "silent") != 0) {
			(void)fprintf(stderr, "hostile: unknown flood kind %s\n", kind);
			return 1;
		}
	}
	left = n - refused;
	deadline = tkt_now_ms() + wait_ms;
	while (left > 0 && tkt_now_ms() < deadline) {
		int r = poll(p, n, (int)(deadline - tkt_now_ms()));

		if (r < 0 && errno != EINTR)
			tkt_die("poll");
		for (unsigned i = 0; r > 0 && i < n; i++) {
			struct tk_msg m;
			int fd = -1, rr;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			rr = tk_msg_recv(p[i].fd, &m, &fd);
			if (fd >= 0)
				(void)close(fd);
			if (rr == 0 && m.type == TK_MSG_RESULT) {
				answered++;
				errs[m.err < MAX_ERRNO ? m.err : 0]++;
			} else {
				closed++;
			}
			(void)close(p[i].fd);
			p[i].fd = -1;
			left--;
		}
	}
	(void)printf("FLOOD n=%u answered=%u closed=%u silent=%u refused=%u\n", n, answered, closed,
		     left, refused);
	for (unsigned e = 0; e < MAX_ERRNO; e++)
		if (errs[e])
			(void)printf("ERRNO %s=%u\n", e ? strerrorname_np((int)e) : "other", errs[e]);
	for (unsigned i = 0; i < n; i++)
		if (p[i].fd >= 0)
			(void)close(p[i].fd);
	free(p);
	return left ? 5 : 0;
}

static int run_silent(const char *path, int wait_ms)
{
	long long t0 = tkt_now_ms();
	struct pollfd p = { .events = POLLIN };
	struct tk_msg m;
	int fd = -1, r;

	p.fd = tkt_unix_connect(path, SOCK_SEQPACKET);
	if (p.fd < 0)
		tkt_die("connect");
	r = poll(&p, 1, wait_ms);
	if (r <= 0) {
		(void)printf("SILENT no answer within %d ms\n", wait_ms);
		return 5;
	}
	r = tk_msg_recv(p.fd, &m, &fd);
	if (fd >= 0)
		(void)close(fd);
	if (r == 0 && m.type == TK_MSG_RESULT)
		(void)printf("SILENT errno=%s ms=%lld message=%s\n", strerrorname_np((int)m.err),
			     tkt_now_ms() - t0, m.message);
	else
		(void)printf("SILENT closed ms=%lld\n", tkt_now_ms() - t0);
	(void)close(p.fd);
	return 0;
}

/* ---- remote peers ---------------------------------------------------- */

static int tcp_connect(const char *spec)
{
	struct sockaddr_in a = tkt_addr4(spec);

	return tkt_tcp_connect4(&a);
}

static void tcp_reset(int s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	(void)close(s);
}

/* Read (bounded) until EOF or error; describe what the server did. */
static void drain(int s, int ms)
{
	char buf[4096];
	long long deadline = tkt_now_ms() + ms;
	size_t total = 0;

	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;
		int left = (int)(deadline - tkt_now_ms());

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			(void)printf("PEER server silent after %zu bytes\n", total);
			return;
		}
		n = read(s, buf, sizeof(buf));
		if (n == 0) {
			(void)printf("PEER server closed after %zu bytes\n", total);
			return;
		}
		if (n < 0) {
			(void)printf("PEER server error %s after %zu bytes\n", strerrorname_np(errno), total);
			return;
		}
		total += (size_t)n;
	}
}

struct peer_opts {
	const char *cert, *key, *ca;
	int hold;
	unsigned long bytes; /* payload after "hello\n" before the stream breaks */
};

/* Send o->bytes of a fixed pattern and print its SHA-256. */
static void send_payload(gnutls_session_t t, unsigned long bytes)
{
	static uint8_t buf[16384];
	uint8_t digest[32];
	gnutls_hash_hd_t h;
	unsigned long sent = 0;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		exit(1);
	while (sent < bytes) {
		size_t n = bytes - sent < sizeof(buf) ? bytes - sent : sizeof(buf);
		ssize_t r;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((sent + i) * 131 + ((sent + i) >> 12));
		(void)gnutls_hash(h, buf, n);
		do
			r = gnutls_record_send(t, buf, n);
		while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
		if (r < 0) {
			(void)printf("PEER payload send failed after %lu bytes: %s\n", sent, gnutls_strerror((int)r));
			break;
		}
		sent += (unsigned long)r;
	}
	gnutls_hash_deinit(h, digest);
	(void)printf("PEER sent %lu bytes sha256 ", sent);
	for (size_t i = 0; i < sizeof(digest); i++)
		(void)printf("%02x", digest[i]);
	(void)printf("\n");
}

static gnutls_session_t tls_client(int s, const struct peer_opts *o,
				   gnutls_certificate_credentials_t *ret_cred)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t t;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_init(&t, GNUTLS_CLIENT | GNUTLS_NO_TICKETS) < 0) {
		(void)fprintf(stderr, "hostile: gnutls setup failed\n");
		exit(1);
	}
	if (o->cert && o->key &&
	    gnutls_certificate_set_x509_key_file(cred, o->cert, o->key, GNUTLS_X509_FMT_PEM) < 0) {
		(void)fprintf(stderr, "hostile: cannot load %s / %s\n", o->cert, o->key);
		exit(1);
	}
	if (o->ca)
		(void)gnutls_certificate_set_x509_trust_file(cred, o->ca, GNUTLS_X509_FMT_PEM);
	(void)gnutls_set_default_priority(t);
	(void)gnutls_credentials_set(t, GNUTLS_CRD_CERTIFICATE, cred);
	(void)gnutls_server_name_set(t, GNUTLS_NAME_DNS, "server.example.test",
				     strlen("server.example.test"));
	gnutls_transport_set_int(t, s);
	*ret_cred = cred;
	return t;
}

/* Never hand the server's answer to GnuTLS: the handshake stops right
 * after the ClientHello, however fast the server is. */
static ssize_t pull_nothing(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	(void)p, (void)buf, (void)len;
	errno = EAGAIN;
	return -1;
}

static int run_peer(const char *mode, const char *addr, const struct peer_opts *o)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t t = NULL;
	int s = tcp_connect(addr), r;

	if (strcmp(mode, "garbage") == 0) {
		uint8_t junk[2000];

		random_bytes(junk, sizeof(junk));
		junk[0] = 0x47; /* "G": not a TLS record type either way */
		if (write(s, junk, sizeof(junk)) < 0)
			(void)printf("PEER write failed: %s\n", strerrorname_np(errno));
		drain(s, 5000);
		(void)close(s);
		return 0;
	}
	t = tls_client(s, o, &cred);
	if (strcmp(mode, "reset") == 0 || strcmp(mode, "stall") == 0) {
		/* Send the ClientHello only. */
		gnutls_transport_set_pull_function(t, pull_nothing);
		r = gnutls_handshake(t);
		(void)printf("PEER ClientHello sent (%s)\n", gnutls_strerror(r));
		if (strcmp(mode, "reset") == 0) {
			struct pollfd p = { .fd = s, .events = POLLIN };

			(void)poll(&p, 1, 5000);
			tcp_reset(s);
			(void)printf("PEER reset\n");
		} else {
			drain(s, o->hold * 1000);
			(void)close(s);
		}
		goto out;
	}
	do
		r = gnutls_handshake(t);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		(void)printf("PEER handshake failed: %s\n", gnutls_strerror(r));
		(void)close(s);
		goto out;
	}
	(void)printf("PEER established\n");
	r = (int)gnutls_record_send(t, "hello\n", 6);
	if (r != 6)
		(void)printf("PEER send failed: %s\n", gnutls_strerror(r));
	if (o->bytes)
		send_payload(t, o->bytes);
	/* Give the record time to pass the relay before the connection dies. */
	(void)usleep(300 * 1000);
	if (strcmp(mode, "truncate") == 0) {
		(void)shutdown(s, SHUT_WR); /* a FIN, but no close_notify */
		drain(s, 5000);
		(void)close(s);
	} else if (strcmp(mode, "rst-data") == 0) {
		tcp_reset(s);
	} else {
		(void)fprintf(stderr, "hostile: unknown peer mode %s\n", mode);
		return 1;
	}
	(void)printf("PEER %s done\n", mode);
out:
	gnutls_deinit(t);
	gnutls_certificate_free_credentials(cred);
	return 0;
}

static int run_slowcat(unsigned long rate)
{
	static char buf[4096];
	long long t0 = tkt_now_ms();
	unsigned long long total = 0;
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
		long long due;

		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
			if (w < 0)
				tkt_die("write");
			off += w;
		}
		total += (unsigned long long)n;
		due = t0 + (long long)(total * 1000 / rate);
		if (due > tkt_now_ms())
			(void)usleep((useconds_t)(due - tkt_now_ms()) * 1000);
	}
	if (n < 0)
		tkt_die("read");
	return 0;
}

int main(int argc, char **argv)
{
	(void)signal(SIGPIPE, SIG_IGN);
	srand((unsigned)(getpid() ^ time(NULL)));
	tkt_prog_set("hostile", 1);
	(void)alarm(300); /* a hung helper is worse than a failed one */
	if (argc == 6 && strcmp(argv[1], "flood") == 0)
		return run_flood(argv[2], (unsigned)atoi(argv[3]), argv[4], atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "silent") == 0)
		return run_silent(argv[2], atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "slowcat") == 0)
		return run_slowcat(strtoul(argv[2], NULL, 10) ? strtoul(argv[2], NULL, 10) : 1);
	if (argc >= 4 && strcmp(argv[1], "peer") == 0) {
		struct peer_opts o = { .hold = 10 };

		for (int i = 4; i + 1 < argc; i += 2) {
			if (strcmp(argv[i], "--cert") == 0)
				o.cert = argv[i + 1];
			else if (strcmp(argv[i], "--key") == 0)
				o.key = argv[i + 1];
			else if (strcmp(argv[i], "--ca") == 0)
				o.ca = argv[i + 1];
			else if (strcmp(argv[i], "--hold") == 0)
				o.hold = atoi(argv[i + 1]);
			else if (strcmp(argv[i], "--bytes") == 0)
				o.bytes = strtoul(argv[i + 1], NULL, 10);
		}
		return run_peer(argv[2], argv[3], &o);
	}
	(void)fprintf(stderr, "usage: see the comment at the top of test/fault/hostile.c\n");
	return 1;
}
