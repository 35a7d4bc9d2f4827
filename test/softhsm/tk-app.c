/* tk-app: a test application for the integration tests.
 *
 * It uses libtlskey exactly as an application would (only
 * <tlskey/starttls.h>), plus a "hostile" mode that speaks the wire protocol
 * directly to check that the daemon survives malformed clients.
 *
 *   tk-app server --listen ADDR:PORT [--port-file F] --myname N [common]
 *                 [--sni-allow NAME | --sni-deny] [--accept-count N] [--echo]
 *   tk-app client --connect ADDR:PORT --myname N [--sni NAME] [common]
 *   tk-app badfd  --kind pipe|unconnected|udp|closed --myname N [--role R] [common]
 *   tk-app hostile SOCKET MODE       (MODE: see hostile_modes[])
 *   tk-app sink   --listen ADDR:PORT [--port-file F] [--timeout SEC]
 *                 (a silent TCP peer: accepts one connection, never writes)
 *
 * common: [--flags HEX] [--proto N] [--peername-len N] [--expect-errno E[,E...]|any]
 *         [--timeout SEC]
 *
 * ADDR is numeric: 127.0.0.1 or [::1].  PORT 0 picks a free port; the
 * actual one is written to --port-file (atomically, by rename).
 *
 * After the handshake it prints "PEER=<identity>" on stderr (a server with
 * a checksni callback also prints "SNI=<name>"), then relays stdin to the
 * protected descriptor (shutdown(SHUT_WR) at EOF) and the descriptor to
 * stdout until EOF.  With --echo a server sends back what it receives.
 * On failure it prints "ERROR errno=<NAME> <strerror>: <tlskey_last_error()>".
 *
 * Exit status: 0 success (or the expected failure), 1 usage or local
 * error, 2 starttls failed, 3 relay error, 4 --expect-errno not met,
 * 5 hostile: daemon did not answer in time. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "common/wire.h"

enum {
	EXIT_USAGE = 1,
	EXIT_STARTTLS = 2,
	EXIT_RELAY = 3,
	EXIT_EXPECT = 4,
	EXIT_HANG = 5,
};

#define RELAY_BUF (64 * 1024)

static const struct {
	const char *name;
	int value;
} errno_names[] = {
#define E(x) { #x, x }
	E(EACCES),	 E(EPERM),	E(ENOKEY),	 E(ENOTSOCK),	 E(EBADF),
	E(ERANGE),	 E(EINVAL),	E(EPROTONOSUPPORT), E(ENOTSUP),	 E(ECONNRESET),
	E(EPROTO),	 E(EBADMSG),	E(ETIMEDOUT),	 E(EHOSTUNREACH), E(ECONNREFUSED),
	E(ENOENT),	 E(ENAMETOOLONG), E(ENOTCONN),	 E(ECONNABORTED), E(EIO),
	E(EKEYREJECTED), E(EKEYEXPIRED), E(EKEYREVOKED), E(EAGAIN),	 E(EBUSY),
	E(ENOMEM),	 E(EMSGSIZE),	E(EPROTOTYPE),	 E(EAFNOSUPPORT), E(EPIPE),
	E(ENODEV),	 E(ENXIO),	E(ESRCH),	 E(EOPNOTSUPP),	 E(ENOSYS),
#undef E
};

static const char *errno_name(int e)
{
	static char buf[16];

	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].value == e)
			return errno_names[i].name;
	(void)snprintf(buf, sizeof(buf), "E#%d", e);
	return buf;
}

static int errno_value(const char *name)
{
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (strcmp(errno_names[i].name, name) == 0)
			return errno_names[i].value;
	return -1;
}

static void usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)fputs("tk-app: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputs("\n(see the comment at the top of test/softhsm/tk-app.c)\n", stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

static void fail(const char *what) __attribute__((noreturn));
static void fail(const char *what)
{
	(void)fprintf(stderr, "tk-app: %s: %s\n", what, strerror(errno));
	exit(EXIT_USAGE);
}

struct opts {
	const char *listen;
	const char *connect;
	const char *port_file;
	char *myname;
	char *sni;
	const char *sni_allow;
	int sni_deny;
	int flags;
	int proto;
	size_t peername_len;
	const char *expect;
	unsigned accept_count;
	int echo;
	const char *kind;
	const char *role;
	unsigned timeout;
};

static const char *sni_allow_name;

/* checksni callback for --sni-allow / --sni-deny. */
static int check_sni(char *name)
{
	int ok = sni_allow_name && strcmp(name, sni_allow_name) == 0;

	(void)fprintf(stderr, "SNI=%s\n", name);
	return ok;
}

static unsigned long parse_num(const char *s, int base, unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || v > max)
		usage("bad %s: %s", what, s);
	return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = IPPROTO_TCP;
	o->peername_len = TK_ID_MAX + 1;
	o->accept_count = 1;
	o->timeout = 60;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define ARG(name) (strcmp(a, name) == 0 && (v ? (i++, 1) : (usage("%s needs a value", name), 0)))
		if (ARG("--listen"))
			o->listen = v;
		else if (ARG("--connect"))
			o->connect = v;
		else if (ARG("--port-file"))
			o->port_file = v;
		else if (ARG("--myname"))
			o->myname = (char *)v;
		else if (ARG("--sni"))
			o->sni = (char *)v;
		else if (ARG("--sni-allow"))
			o->sni_allow = v;
		else if (strcmp(a, "--sni-deny") == 0)
			o->sni_deny = 1;
		else if (ARG("--flags"))
			o->flags = (int)parse_num(v, 16, INT_MAX, "--flags");
		else if (ARG("--proto"))
			o->proto = (int)parse_num(v, 10, INT_MAX, "--proto");
		else if (ARG("--peername-len"))
			o->peername_len = parse_num(v, 10, 1u << 20, "--peername-len");
		else if (ARG("--expect-errno"))
			o->expect = v;
		else if (ARG("--accept-count"))
			o->accept_count = (unsigned)parse_num(v, 10, 1000, "--accept-count");
		else if (strcmp(a, "--echo") == 0)
			o->echo = 1;
		else if (ARG("--kind"))
			o->kind = v;
		else if (ARG("--role"))
			o->role = v;
		else if (ARG("--timeout"))
			o->timeout = (unsigned)parse_num(v, 10, 3600, "--timeout");
		else
			usage("unknown argument %s", a);
#undef ARG
	}
	if (o->expect && strcmp(o->expect, "any") != 0) {
		char tmp[256], *save = NULL;

		if (strlen(o->expect) >= sizeof(tmp))
			usage("--expect-errno too long");
		strcpy(tmp, o->expect);
		for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (errno_value(t) < 0)
				usage("unknown errno name %s", t);
	}
}

static int errno_expected(const char *list, int e)
{
	char tmp[256], *save = NULL;

	if (strcmp(list, "any") == 0)
		return 1;
	(void)snprintf(tmp, sizeof(tmp), "%s", list);
	for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (errno_value(t) == e)
			return 1;
	return 0;
}

/* Report the outcome of one starttls_*() call.  Returns -1 to go on with
 * the relay, otherwise the exit status for this connection. */
static int report_starttls(const struct opts *o, int pfd, int e, const char *peer)
{
	if (pfd < 0) {
		(void)fprintf(stderr, "ERROR errno=%s %s: %s\n", errno_name(e), strerror(e),
			      tlskey_last_error());
		if (!o->expect)
			return EXIT_STARTTLS;
		if (errno_expected(o->expect, e)) {
			(void)fprintf(stderr, "EXPECTED errno=%s\n", errno_name(e));
			return 0;
		}
		(void)fprintf(stderr, "UNEXPECTED errno=%s (wanted %s)\n", errno_name(e), o->expect);
		return EXIT_EXPECT;
	}
	(void)fprintf(stderr, "PEER=%s\n", peer ? peer : "");
	if (o->expect) {
		(void)fprintf(stderr, "UNEXPECTED success (wanted %s)\n", o->expect);
		(void)close(pfd);
		return EXIT_EXPECT;
	}
	return -1;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

struct pipebuf {
	char data[RELAY_BUF];
	size_t len, off;
	int eof; /* source finished */
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
	}
	if (b->eof && b->off == b->len) {
		if (shut_sink && shutdown(sink, SHUT_WR) < 0 && errno != ENOTCONN)
			return -1;
		*done = 1;
	}
	return 0;
}

/* Relay stdin -> pfd and pfd -> stdout (or pfd -> pfd with echo) until
 * both directions saw EOF.  Takes ownership of pfd. */
static int relay(int pfd, int echo, int use_stdin)
{
	static struct pipebuf up, down;
	int up_done = echo || !use_stdin, down_done = 0;
	int out = echo ? pfd : STDOUT_FILENO;
	int rc = 0;

	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	if (set_nonblock(pfd) < 0)
		fail("fcntl");
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
				      errno_name(errno));
			rc = EXIT_RELAY;
			break;
		}
		if (pump(pfd, out, &down, i_pin >= 0 ? p[i_pin].revents : 0,
			 i_out >= 0 ? p[i_out].revents : POLLOUT, &down_done, echo) < 0) {
			(void)fprintf(stderr, "RELAY-ERROR receive: %s (%s)\n", strerror(errno),
				      errno_name(errno));
			rc = EXIT_RELAY;
			break;
		}
	}
	if (close(pfd) < 0 && rc == 0) {
		(void)fprintf(stderr, "RELAY-ERROR close: %s\n", strerror(errno));
		rc = EXIT_RELAY;
	}
	return rc;
}

/* Parse "127.0.0.1:PORT" or "[::1]:PORT". */
static struct addrinfo *parse_addr(const char *spec, int passive)
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

static void write_port_file(const char *path, int lsock)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char tmp[4096];
	unsigned port;
	FILE *f;

	if (getsockname(lsock, (struct sockaddr *)&ss, &sl) < 0)
		fail("getsockname");
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		usage("--port-file too long");
	f = fopen(tmp, "we");
	if (!f)
		fail(tmp);
	(void)fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		fail(path);
}

static int run_server(const struct opts *o)
{
	struct addrinfo *ai;
	int lsock, one = 1, worst = 0;
	int (*cb)(char *) = NULL;

	if (!o->listen || !o->myname)
		usage("server needs --listen and --myname");
	if (o->sni_allow || o->sni_deny) {
		sni_allow_name = o->sni_allow;
		cb = check_sni;
	}
	ai = parse_addr(o->listen, 1);
	lsock = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0)
		fail("socket");
	(void)setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lsock, ai->ai_addr, ai->ai_addrlen) < 0)
		fail("bind");
	freeaddrinfo(ai);
	if (listen(lsock, 16) < 0)
		fail("listen");
	if (o->port_file)
		write_port_file(o->port_file, lsock);

	for (unsigned n = 0; n < o->accept_count; n++) {
		char *peer = o->peername_len ? calloc(1, o->peername_len) : NULL;
		int fd, pfd, rc;

		if (o->peername_len && !peer)
			fail("calloc");
		fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			fail("accept");
		/* fd is consumed by starttls_server() in every case. */
		pfd = starttls_server(fd, o->proto, o->myname, o->flags, cb, peer, o->peername_len);
		rc = report_starttls(o, pfd, errno, peer);
		free(peer);
		if (rc < 0)
			rc = relay(pfd, o->echo, n == 0);
		if (rc > worst)
			worst = rc;
	}
	(void)close(lsock);
	return worst;
}

static int run_client(const struct opts *o)
{
	struct addrinfo *ai;
	char *peer = o->peername_len ? calloc(1, o->peername_len) : NULL;
	int fd, pfd, rc;

	if (!o->connect || !o->myname)
		usage("client needs --connect and --myname");
	if (o->peername_len && !peer)
		fail("calloc");
	ai = parse_addr(o->connect, 0);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		fail("connect");
	freeaddrinfo(ai);
	pfd = starttls_client(fd, o->proto, o->myname, o->flags, o->sni, peer, o->peername_len);
	rc = report_starttls(o, pfd, errno, peer);
	free(peer);
	if (rc >= 0)
		return rc;
	return relay(pfd, 0, 1);
}

/* Hand the library a descriptor that is not a connected TCP socket. */
static int run_badfd(const struct opts *o)
{
	int fds[2] = { -1, -1 }, fd, pfd;
	const char *kind = o->kind ? o->kind : "pipe";
	int server = o->role && strcmp(o->role, "server") == 0;

	if (!o->myname)
		usage("badfd needs --myname");
	if (strcmp(kind, "pipe") == 0) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			fail("pipe");
		fd = fds[0];
	} else if (strcmp(kind, "unconnected") == 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	} else if (strcmp(kind, "udp") == 0) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	} else if (strcmp(kind, "unix") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
			fail("socketpair");
		fd = fds[0];
	} else if (strcmp(kind, "closed") == 0) {
		fd = 1000; /* not open */
	} else {
		usage("unknown --kind %s", kind);
	}
	if (fd < 0)
		fail("socket");
	if (server)
		pfd = starttls_server(fd, o->proto, o->myname, o->flags, NULL, NULL, 0);
	else
		pfd = starttls_client(fd, o->proto, o->myname, o->flags, o->sni, NULL, 0);
	if (fds[1] >= 0)
		(void)close(fds[1]);
	{
		int rc = report_starttls(o, pfd, errno, NULL);
		if (rc < 0) {
			(void)close(pfd);
			rc = 0;
		}
		return rc;
	}
}

/* A remote peer that accepts and then says nothing: handshake timers. */
static int run_sink(const struct opts *o)
{
	struct addrinfo *ai;
	char buf[4096];
	int lsock, fd, one = 1;

	if (!o->listen)
		usage("sink needs --listen");
	ai = parse_addr(o->listen, 1);
	lsock = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0)
		fail("socket");
	(void)setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lsock, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lsock, 4) < 0)
		fail("bind");
	freeaddrinfo(ai);
	if (o->port_file)
		write_port_file(o->port_file, lsock);
	fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		fail("accept");
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	(void)fprintf(stderr, "SINK closed\n");
	(void)close(fd);
	(void)close(lsock);
	return 0;
}

/* ---- hostile clients ------------------------------------------------ */

static size_t start_msg(uint8_t *buf, size_t cap)
{
	struct tk_msg m = { .type = TK_MSG_START, .role = TK_ROLE_CLIENT, .proto = IPPROTO_TCP };
	size_t len;

	m.present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_PROTO) | (1u << TK_TAG_FLAGS);
	if (tk_msg_set_str(&m, TK_TAG_MYNAME, "alice@example.test") < 0 ||
	    tk_msg_encode(&m, buf, cap, &len) < 0) {
		(void)fprintf(stderr, "tk-app: cannot encode START\n");
		exit(EXIT_USAGE);
	}
	return len;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int send_raw(int s, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 4)
		return -1;
	if (nfds) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static const char *const hostile_modes[] = {
	"garbage",    /* random bytes, no fd */
	"bad-magic",  /* valid START with a wrong magic, with a socket fd */
	"bad-version",
	"truncated",  /* first half of a valid START */
	"length-lie", /* header claims more body than sent */
	"oversize",   /* 3 * TK_WIRE_MAX_MSG bytes */
	"wrong-type", /* a RESULT message sent to the daemon */
	"no-fd",      /* valid START, no descriptor */
	"two-fds",    /* valid START with two descriptors */
	"pipe-fd",    /* valid START with a pipe */
	"empty",      /* zero-length record */
	"hangup",     /* connect and close at once */
	"stream",     /* SOCK_STREAM connect (the daemon socket is SEQPACKET) */
	NULL,
};

static int run_hostile(const char *path, const char *mode, unsigned timeout)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t buf[3 * TK_WIRE_MAX_MSG];
	size_t len = 0;
	int s, extra[2] = { -1, -1 }, pass[2], npass = 0, r = 0, known = 0;
	struct pollfd p;

	for (size_t i = 0; hostile_modes[i]; i++)
		known |= strcmp(hostile_modes[i], mode) == 0;
	if (!known)
		usage("unknown hostile mode %s", mode);
	if (strlen(path) >= sizeof(sa.sun_path))
		usage("socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);

	s = socket(AF_UNIX, (strcmp(mode, "stream") == 0 ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC,
		   0);
	if (s < 0)
		fail("socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (strcmp(mode, "stream") == 0) {
			(void)fprintf(stderr, "HOSTILE stream: connect refused (%s)\n", errno_name(errno));
			return 0;
		}
		fail("connect");
	}
	if (strcmp(mode, "hangup") == 0) {
		(void)close(s);
		(void)fprintf(stderr, "HOSTILE hangup: done\n");
		return 0;
	}

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, extra) < 0)
		fail("socketpair");
	if (strcmp(mode, "garbage") == 0 || strcmp(mode, "stream") == 0) {
		int u = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		len = 200;
		if (u < 0 || read(u, buf, len) != (ssize_t)len)
			fail("/dev/urandom");
		(void)close(u);
	} else if (strcmp(mode, "oversize") == 0) {
		len = start_msg(buf, sizeof(buf));
		memset(buf + len, 'A', sizeof(buf) - len);
		len = sizeof(buf);
		put_u32(buf + 4, (uint32_t)(len - TK_WIRE_HDR_LEN));
	} else if (strcmp(mode, "empty") == 0) {
		len = 0;
	} else if (strcmp(mode, "wrong-type") == 0) {
		struct tk_msg m = { .type = TK_MSG_RESULT, .err = 0 };
		m.present = 1u << TK_TAG_ERRNO;
		(void)tk_msg_set_str(&m, TK_TAG_PEERNAME, "root@example.test");
		if (tk_msg_encode(&m, buf, sizeof(buf), &len) < 0)
			usage("encode");
		pass[npass++] = extra[0];
	} else {
		len = start_msg(buf, sizeof(buf));
		if (strcmp(mode, "bad-magic") == 0) {
			buf[0] ^= 0xff;
			pass[npass++] = extra[0];
		} else if (strcmp(mode, "bad-version") == 0) {
			buf[2] = 0x7f;
			pass[npass++] = extra[0];
		} else if (strcmp(mode, "truncated") == 0) {
			len /= 2;
			pass[npass++] = extra[0];
		} else if (strcmp(mode, "length-lie") == 0) {
			put_u32(buf + 4, 0xfffffff0u);
			pass[npass++] = extra[0];
		} else if (strcmp(mode, "two-fds") == 0) {
			pass[npass++] = extra[0];
			pass[npass++] = extra[1];
		} else if (strcmp(mode, "pipe-fd") == 0) {
			int pp[2];
			if (pipe2(pp, O_CLOEXEC) < 0)
				fail("pipe");
			pass[npass++] = pp[0];
		}
		/* no-fd: nothing to pass */
	}
	if (send_raw(s, buf, len, pass, (size_t)npass) < 0) {
		/* The daemon may have refused before reading; that is fine. */
		(void)fprintf(stderr, "HOSTILE %s: send failed: %s\n", mode, errno_name(errno));
		(void)close(s);
		return 0;
	}

	/* The daemon must answer with an error or close; it must not hang
	 * on to the connection forever. */
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	r = poll(&p, 1, (int)timeout * 1000);
	if (r == 0) {
		(void)fprintf(stderr, "HOSTILE %s: no answer within %us\n", mode, timeout);
		(void)close(s);
		return EXIT_HANG;
	}
	{
		struct tk_msg m;
		int fd = -1;

		r = tk_msg_recv(s, &m, &fd);
		if (r == -ECONNRESET)
			(void)fprintf(stderr, "HOSTILE %s: daemon closed the connection\n", mode);
		else if (r < 0)
			(void)fprintf(stderr, "HOSTILE %s: bad reply: %s\n", mode, errno_name(-r));
		else if (m.type == TK_MSG_RESULT && m.err != 0)
			(void)fprintf(stderr, "HOSTILE %s: error reply errno=%s: %s\n", mode,
				      errno_name((int)m.err), m.message);
		else {
			(void)fprintf(stderr, "HOSTILE %s: UNEXPECTED reply type %u err %u fd %d\n", mode,
				      m.type, m.err, fd);
			r = EXIT_EXPECT;
		}
		if (fd >= 0)
			(void)close(fd);
	}
	(void)close(s);
	return r == EXIT_EXPECT ? EXIT_EXPECT : 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage("missing mode (server, client, badfd, hostile)");
	if (strcmp(argv[1], "hostile") == 0) {
		if (argc < 4)
			usage("hostile SOCKET MODE [--timeout SEC]");
		parse_opts(argc - 4, argv + 4, &o);
		(void)alarm(o.timeout + 5);
		return run_hostile(argv[2], argv[3], o.timeout > 10 ? 10 : o.timeout);
	}
	parse_opts(argc - 2, argv + 2, &o);
	/* A hung test is worse than a failed one. */
	(void)alarm(o.timeout);
	if (strcmp(argv[1], "server") == 0)
		return run_server(&o);
	if (strcmp(argv[1], "client") == 0)
		return run_client(&o);
	if (strcmp(argv[1], "badfd") == 0)
		return run_badfd(&o);
	if (strcmp(argv[1], "sink") == 0)
		return run_sink(&o);
	usage("unknown mode %s", argv[1]);
}
