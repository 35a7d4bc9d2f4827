/* tk-app: a test application for the integration tests.
 *
 * It uses libtlskey exactly as an application would (only
 * <tlskey/starttls.h>), plus a "hostile" mode that speaks the wire protocol
 * directly to check that the daemon survives malformed clients.
 *
 *   tk-app server --listen ADDR:PORT [--port-file F] --myname N [common]
 *                 [--sni-allow NAME | --sni-deny] [--accept-count N] [--echo]
 *   tk-app client --connect ADDR:PORT --myname N [--sni NAME] [common]
 *   tk-app badfd  --kind pipe|unconnected|udp|unix|closed|finish-sni|finish-sni-nocb --myname N [--role R] [common]
 *   tk-app query  --kind plain|pipe|closed [--expect-errno E]
 *                 (tlskey_query() on a descriptor that tlskeyd never made)
 *   tk-app hostile SOCKET MODE       (MODE: see hostile_modes[])
 *   tk-app sink   --listen ADDR:PORT [--port-file F] [--timeout SEC]
 *                 (a silent TCP peer: accepts one connection, never writes)
 *   tk-app sink   --connect ADDR:PORT [--reply TEXT] [--timeout SEC]
 *                 (a silent TCP client; with --reply it answers TEXT in
 *                 cleartext once it received a whole line, then half-closes)
 *   tk-app splice --connect ADDR:PORT --to ADDR:PORT
 *                 (connects to both and relays bytes between them, so that
 *                 a --role-swap server meets a real TLS server)
 *   A sink copies what it receives to stdout and ends with "SINK end=eof",
 *   "SINK end=reset" or "SINK end=error:<ERRNO>" and "SINK ms=<duration>".
 *
 * common: [--flags HEX] [--proto N] [--peername-len N] [--expect-errno E[,E...]|any]
 *         [--timeout SEC]
 * extended API (any of these makes tk-app call tlskey_starttls()):
 *   --role-swap         the accepting side (server) runs the TLS client role
 *                       (with --sni), the connecting side (client) the TLS
 *                       server role (with --sni-allow/--sni-deny)
 *   --hs-timeout MS     handshake timer
 *   --allow-hs-timeout  cleartext fallback; prints "STATE=cleartext|secure"
 *                       (from tlskey_query() on the result)
 *   --nonblocking       start non-blocking; prints "PENDING=ready|notready"
 *                       (an immediate poll), polls the pending descriptor for
 *                       POLLIN (bounded by --timeout), prints "NONBLOCK=ok"
 *                       and "NONBLOCK-MS=<wait>", then calls tlskey_finish();
 *                       with a checksni callback tlskey_finish_sni() each
 *                       time it is readable ("NONBLOCK-SNI=answered" per
 *                       query answered)
 *   --finish-plain      with --nonblocking and a callback: tlskey_finish()
 *   --query             after the handshake print "QUERY state=.. version=..
 *                       cipher=.. peer=.. local=.. mapped=.. hs_ms=.. certlen=.."
 *   --cert-out FILE     with --query: write the peer certificate (DER) to FILE
 *   --query-at-end      after the relay ended, print "ENDSTATE=secure|failed|gone"
 *   --udp               DTLS: a UDP socket (client: connect(); server: bind,
 *                       learn the peer with recvfrom(MSG_PEEK), connect());
 *                       stdin lines go out as one datagram each (newline
 *                       included); every datagram received is written to
 *                       stdout and logged as "DGRAM len=N" on stderr
 *   --dgrams N          with --udp: stop after receiving N datagrams (the
 *                       client's default is the number of lines it sent)
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
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "common/file.h"
#include "common/wire.h"

enum {
	EXIT_USAGE = 1,
	EXIT_STARTTLS = 2,
	EXIT_RELAY = 3,
	EXIT_EXPECT = 4,
	EXIT_HANG = 5,
};

#define RELAY_BUF (64 * 1024)

/* --query-at-end: print ENDSTATE= after the relay ended. */
static int query_at_end;

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

/* What kind of socket the protected descriptor is: tcp, unix or seqpacket. */
static const char *fd_kind(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0;
	socklen_t tl = sizeof(type);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return "unknown";
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		return type == SOCK_STREAM ? "tcp" : "inet-other";
	if (ss.ss_family == AF_UNIX)
		return type == SOCK_SEQPACKET ? "seqpacket" : "unix";
	return "unknown";
}

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
	/* extended API */
	int role_swap;
	unsigned hs_timeout;
	int allow_hs_timeout;
	int nonblocking;
	int finish_plain; /* tlskey_finish() even with a checksni callback */
	int query;
	const char *cert_out;
	int udp;
	int proto_set;
	unsigned dgrams;
	const char *reply;
	const char *to;
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
		else if (ARG("--proto")) {
			o->proto = (int)parse_num(v, 10, INT_MAX, "--proto");
			o->proto_set = 1;
		}
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
		else if (strcmp(a, "--role-swap") == 0)
			o->role_swap = 1;
		else if (ARG("--hs-timeout"))
			o->hs_timeout = (unsigned)parse_num(v, 10, UINT_MAX, "--hs-timeout");
		else if (strcmp(a, "--allow-hs-timeout") == 0)
			o->allow_hs_timeout = 1;
		else if (strcmp(a, "--nonblocking") == 0)
			o->nonblocking = 1;
		else if (strcmp(a, "--finish-plain") == 0)
			o->finish_plain = 1;
		else if (strcmp(a, "--query") == 0)
			o->query = 1;
		else if (strcmp(a, "--query-at-end") == 0)
			query_at_end = 1;
		else if (ARG("--cert-out"))
			o->cert_out = v;
		else if (strcmp(a, "--udp") == 0)
			o->udp = 1;
		else if (ARG("--dgrams"))
			o->dgrams = (unsigned)parse_num(v, 10, 100000, "--dgrams");
		else if (ARG("--reply"))
			o->reply = v;
		else if (ARG("--to"))
			o->to = v;
		else
			usage("unknown argument %s", a);
#undef ARG
	}
	if (o->udp && !o->proto_set)
		o->proto = IPPROTO_UDP;
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
	(void)fprintf(stderr, "PROTECTED=%s\n", fd_kind(pfd));
	if (o->expect) {
		(void)fprintf(stderr, "UNEXPECTED success (wanted %s)\n", o->expect);
		(void)close(pfd);
		return EXIT_EXPECT;
	}
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does any option need the extended API? */
static int use_ext(const struct opts *o)
{
	return o->role_swap || o->hs_timeout || o->allow_hs_timeout || o->nonblocking || o->query ||
	       o->cert_out || o->udp;
}

/* Start TLS on fd (always consumed) in `role`.  Returns the protected
 * descriptor, or -1 with the errno in *ret_errno. */
static int start_tls(const struct opts *o, int fd, int role, int (*cb)(char *), char *peer,
		     size_t peer_len, int *ret_errno)
{
	struct tlskey_options to;
	struct pollfd p;
	long long t0;
	int pfd, pending, r;

	if (!use_ext(o)) {
		if (role == TLSKEY_ROLE_SERVER)
			pfd = starttls_server(fd, o->proto, o->myname, o->flags, cb, peer, peer_len);
		else
			pfd = starttls_client(fd, o->proto, o->myname, o->flags, o->sni, peer, peer_len);
		*ret_errno = errno;
		return pfd;
	}
	/* Pass what was asked for, whatever the role: the library is the
	 * one to refuse nonsense (tests rely on its EINVAL). */
	memset(&to, 0, sizeof(to));
	to.size = sizeof(to);
	to.handshake_timeout_ms = o->hs_timeout;
	to.allow_handshake_timeout = o->allow_hs_timeout;
	to.nonblocking = o->nonblocking;
	to.sniname = o->sni;
	to.checksni = cb;
	if (!o->nonblocking) {
		pfd = tlskey_starttls(fd, o->proto, role, o->myname, o->flags, &to, peer, peer_len);
		*ret_errno = errno;
		return pfd;
	}
	pending = tlskey_starttls(fd, o->proto, role, o->myname, o->flags, &to, NULL, 0);
	if (pending < 0) {
		*ret_errno = errno;
		return -1;
	}
	t0 = now_ms();
	p = (struct pollfd){ .fd = pending, .events = POLLIN };
	r = poll(&p, 1, 0);
	(void)fprintf(stderr, "PENDING=%s\n", r > 0 ? "ready" : "notready");
	for (;;) {
		/* Bounded below the alarm, so that a hang is reported as such. */
		do {
			p.revents = 0;
			r = poll(&p, 1, (int)(o->timeout > 3 ? o->timeout - 2 : 1) * 1000);
		} while (r < 0 && errno == EINTR);
		if (r <= 0) {
			(void)fprintf(stderr, "NONBLOCK=timeout (pending descriptor never became readable)\n");
			(void)close(pending);
			exit(EXIT_STARTTLS);
		}
		if (!cb || o->finish_plain)
			break;
		/* With checksni: answer queries until the handshake ends. */
		pfd = tlskey_finish_sni(pending, cb, peer, peer_len);
		if (pfd >= 0 || errno != EINPROGRESS) {
			*ret_errno = errno;
			(void)fprintf(stderr, "NONBLOCK=ok\nNONBLOCK-MS=%lld\n", now_ms() - t0);
			return pfd;
		}
		(void)fprintf(stderr, "NONBLOCK-SNI=answered\n");
	}
	(void)fprintf(stderr, "NONBLOCK=ok\nNONBLOCK-MS=%lld\n", now_ms() - t0);
	pfd = tlskey_finish(pending, peer, peer_len);
	*ret_errno = errno;
	return pfd;
}

static const char *state_name(int st)
{
	switch (st) {
	case TLSKEY_STATE_SECURE:
		return "secure";
	case TLSKEY_STATE_CLEARTEXT:
		return "cleartext";
	case TLSKEY_STATE_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

static void print_query(const struct tlskey_info *i)
{
	(void)fprintf(stderr,
		      "QUERY state=%s version=%s cipher=%s peer=%s local=%s mapped=%s hs_ms=%u "
		      "certlen=%zu\n",
		      state_name(i->state), i->version, i->cipher_suite, i->peer, i->local,
		      i->mapped_user, i->handshake_ms, i->peer_cert_len);
}

/* After a successful start: --allow-hs-timeout, --query, --cert-out.
 * Returns 0, or an exit status (pfd is then closed). */
static int after_start(const struct opts *o, int pfd)
{
	struct tlskey_info *info;
	int rc = 0;

	if (!o->allow_hs_timeout && !o->query && !o->cert_out)
		return 0;
	info = calloc(1, sizeof(*info));
	if (!info)
		fail("calloc");
	if (tlskey_query(pfd, info) < 0) {
		int e = errno;

		(void)fprintf(stderr, "QUERY-ERROR errno=%s %s: %s\n", errno_name(e), strerror(e),
			      tlskey_last_error());
		rc = EXIT_STARTTLS;
		goto out;
	}
	if (o->allow_hs_timeout)
		(void)fprintf(stderr, "STATE=%s\n", state_name(info->state));
	if (o->query)
		print_query(info);
	if (o->cert_out) {
		FILE *f = fopen(o->cert_out, "we");

		if (!f || fwrite(info->peer_cert, 1, info->peer_cert_len, f) != info->peer_cert_len ||
		    fclose(f) != 0)
			fail(o->cert_out);
	}
out:
	free(info);
	if (rc)
		(void)close(pfd);
	return rc;
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
	if (query_at_end) {
		/* How did the session end?  A peer that vanished without
		 * close_notify looks like EOF here; the daemon knows better. */
		struct tlskey_info *info = calloc(1, sizeof(*info));

		if (info && tlskey_query(pfd, info) == 0)
			(void)fprintf(stderr, "ENDSTATE=%s\n", state_name(info->state));
		else
			(void)fprintf(stderr, "ENDSTATE=gone (%s)\n", errno_name(errno));
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
static int relay_dgram(int pfd, int echo, int use_stdin, unsigned want)
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

				if (send(pfd, in, len, MSG_NOSIGNAL) < 0) {
					(void)fprintf(stderr, "RELAY-ERROR send: %s (%s)\n", strerror(errno),
						      errno_name(errno));
					rc = EXIT_RELAY;
					goto out;
				}
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
					      errno_name(errno));
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

/* Atomically, and never over anything but a regular file (see
 * tk_file_replace): the tests run as root. */
static void write_port_file(const char *path, int lsock)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char text[16], err[512] = "";
	unsigned port;
	int n;

	if (getsockname(lsock, (struct sockaddr *)&ss, &sl) < 0)
		fail("getsockname");
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	n = snprintf(text, sizeof(text), "%u\n", port);
	if (tk_file_replace(path, text, (size_t)n, err, sizeof(err)) < 0) {
		(void)fprintf(stderr, "tk-app: --port-file: %s\n", err);
		exit(1);
	}
}

static int (*sni_callback(const struct opts *o))(char *)
{
	if (!o->sni_allow && !o->sni_deny)
		return NULL;
	sni_allow_name = o->sni_allow;
	return check_sni;
}

/* After the handshake: report, query, relay.  Consumes pfd. */
static int serve(const struct opts *o, int pfd, int e, const char *peer, int use_stdin)
{
	int rc = report_starttls(o, pfd, e, peer);

	if (rc >= 0)
		return rc;
	rc = after_start(o, pfd);
	if (rc)
		return rc;
	if (o->udp)
		return relay_dgram(pfd, o->echo, use_stdin && !o->echo, o->dgrams);
	return relay(pfd, o->echo, use_stdin);
}

/* DTLS server: a UDP socket has no accept(), so learn the first client's
 * address from its first datagram (left queued for the daemon), and
 * connect() to it. */
static int run_udp_server(const struct opts *o, int role, int (*cb)(char *))
{
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct pollfd p;
	char *peer = o->peername_len ? calloc(1, o->peername_len) : NULL;
	char byte;
	int s, pfd, e, r;

	if (o->peername_len && !peer)
		fail("calloc");
	ai = parse_addr(o->listen, 1);
	s = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail("socket");
	if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0)
		fail("bind");
	freeaddrinfo(ai);
	if (o->port_file)
		write_port_file(o->port_file, s);
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	do
		r = poll(&p, 1, (int)(o->timeout > 3 ? o->timeout - 2 : 1) * 1000);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		(void)fprintf(stderr, "tk-app: no datagram arrived\n");
		return EXIT_USAGE;
	}
	if (recvfrom(s, &byte, 1, MSG_PEEK, (struct sockaddr *)&ss, &sl) < 0)
		fail("recvfrom");
	if (connect(s, (struct sockaddr *)&ss, sl) < 0)
		fail("connect");
	pfd = start_tls(o, s, role, cb, peer, o->peername_len, &e);
	r = serve(o, pfd, e, peer, 1);
	free(peer);
	return r;
}

static int run_server(const struct opts *o)
{
	struct addrinfo *ai;
	int lsock, one = 1, worst = 0;
	int (*cb)(char *) = sni_callback(o);
	int role = o->role_swap ? TLSKEY_ROLE_CLIENT : TLSKEY_ROLE_SERVER;

	if (!o->listen || !o->myname)
		usage("server needs --listen and --myname");
	if (o->udp)
		return run_udp_server(o, role, cb);
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
		int fd, pfd, rc, e;

		if (o->peername_len && !peer)
			fail("calloc");
		fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			fail("accept");
		/* fd is consumed by the start call in every case. */
		pfd = start_tls(o, fd, role, cb, peer, o->peername_len, &e);
		rc = serve(o, pfd, e, peer, n == 0);
		free(peer);
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
	int fd, pfd, rc, e;
	int role = o->role_swap ? TLSKEY_ROLE_SERVER : TLSKEY_ROLE_CLIENT;

	if (!o->connect || !o->myname)
		usage("client needs --connect and --myname");
	if (o->peername_len && !peer)
		fail("calloc");
	ai = parse_addr(o->connect, 0);
	fd = socket(ai->ai_family, (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		fail("connect");
	freeaddrinfo(ai);
	pfd = start_tls(o, fd, role, sni_callback(o), peer, o->peername_len, &e);
	rc = serve(o, pfd, e, peer, 1);
	free(peer);
	return rc;
}

/* tlskey_query() on a descriptor tlskeyd never handed out. */
static int run_query(const struct opts *o)
{
	struct tlskey_info *info = calloc(1, sizeof(*info));
	const char *kind = o->kind ? o->kind : "plain";
	int fds[2] = { -1, -1 }, fd, rc, e;

	if (!info)
		fail("calloc");
	if (strcmp(kind, "plain") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
			fail("socketpair");
		fd = fds[0];
	} else if (strcmp(kind, "tcp") == 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	} else if (strcmp(kind, "pipe") == 0) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			fail("pipe");
		fd = fds[0];
	} else if (strcmp(kind, "closed") == 0) {
		fd = 1000; /* not open */
	} else {
		usage("unknown --kind %s", kind);
	}
	if (fd < 0)
		fail("socket");
	if (tlskey_query(fd, info) < 0) {
		e = errno;
		rc = report_starttls(o, -1, e, NULL);
	} else {
		print_query(info);
		rc = o->expect ? (fprintf(stderr, "UNEXPECTED success (wanted %s)\n", o->expect), EXIT_EXPECT)
			       : 0;
	}
	if (fd != 1000)
		(void)close(fd);
	if (fds[1] >= 0)
		(void)close(fds[1]);
	free(info);
	return rc;
}

/* Hand the library a descriptor that is not a connected TCP socket. */
static int accept_any_sni(char *name)
{
	(void)name;
	return 1;
}

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
	} else if (strcmp(kind, "finish-sni") == 0 || strcmp(kind, "finish-sni-nocb") == 0) {
		/* tlskey_finish_sni() argument checks: no pending descriptor
		 * (EBADF), no callback (EINVAL); a pipe stands in for the
		 * pending descriptor, which must not be touched. */
		int nocb = strcmp(kind, "finish-sni-nocb") == 0;

		if (pipe2(fds, O_CLOEXEC) < 0)
			fail("pipe");
		pfd = tlskey_finish_sni(nocb ? fds[0] : -1, nocb ? NULL : accept_any_sni, NULL, 0);
		{
			int err = errno, rc;

			if (pfd >= 0 || fcntl(fds[0], F_GETFD) < 0)
				usage("tlskey_finish_sni took or closed the descriptor");
			(void)close(fds[0]);
			(void)close(fds[1]);
			rc = report_starttls(o, pfd, err, NULL);
			return rc < 0 ? 0 : rc;
		}
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

/* A remote peer that says nothing: handshake timers, cleartext fallback.
 * It listens (--listen) or connects (--connect); with --reply it answers
 * in cleartext once a whole line arrived. */
static int run_sink(const struct opts *o)
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
			write_port_file(o->port_file, lsock);
		fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			fail("accept");
	}
	t0 = now_ms();
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

		(void)snprintf(tmp, sizeof(tmp), "error:%s", errno_name(errno));
		end = errno == ECONNRESET ? "reset" : tmp;
	}
	(void)fprintf(stderr, "SINK end=%s\nSINK ms=%lld\nSINK closed\n", end, now_ms() - t0);
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

static int run_splice(const struct opts *o)
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
		usage("missing mode (server, client, badfd, query, sink, hostile)");
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
	if (strcmp(argv[1], "query") == 0)
		return run_query(&o);
	if (strcmp(argv[1], "splice") == 0)
		return run_splice(&o);
	usage("unknown mode %s", argv[1]);
}
