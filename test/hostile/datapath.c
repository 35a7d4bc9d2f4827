/* datapath: attacks on the daemon's data path, for the scripts in test/hostile/.
 * Uses only the public library API (<tlskey/starttls.h>) towards the
 * daemon, and GnuTLS in-process for peers that misbehave after a real
 * handshake.  Loopback only; every wait is bounded.
 *
 *   datapath freeze-nonblock --myname N [--hold SEC]
 *       An admitted caller that keeps a duplicate of the socket it passes
 *       (TLS server role, non-blocking start), waits until the daemon
 *       admitted it, clears O_NONBLOCK through the duplicate (in case a
 *       daemon set it) and makes its own peer send one byte of a record
 *       header: a worker that relies on O_NONBLOCK blocks in recv().
 *       Prints "FREEZE armed", holds.
 *   datapath freeze-linger --myname N [--hold SEC]
 *       A caller that sets SO_LINGER {1, 3600} on a socket whose buffers it
 *       filled (its peer never reads), passes it (TLS client role,
 *       non-blocking), sets SO_LINGER again through a duplicate after
 *       admission, drops the duplicate and abandons the start, so that the
 *       daemon closes the last reference: a lingering close() blocks for an
 *       hour.  Prints "LINGER armed", holds.
 *   datapath peer --port-file F --cert F --key F [--count N] [--stall]
 *                 [--hold SEC]
 *       A TLS server on 127.0.0.1 that accepts N connections one after the
 *       other, completes each handshake and then goes silent: it never
 *       reads again, never answers close_notify, never closes (until
 *       --hold is over).  With --stall it reads the ClientHello and never
 *       answers.  Prints "PEER handshakes=K" / "PEER stalled=K" as it goes.
 *   datapath open-close --connect ADDR:PORT --myname N [--sni S] [--count N]
 *       N sessions in turn: start TLS as client, write a line, close the
 *       protected descriptor.  Prints "OPENCLOSE n=K".
 *   datapath start --connect ADDR:PORT --myname N [--sni S] [--query]
 *       One blocking starttls_client(); prints "START ok" or
 *       "START errno=NAME: message" and exits 0 either way (2 on a
 *       local error).  With --query, then "QUERY flags=0x.." (the
 *       TLSKEY_INFO_* flags tlskey_query() reports).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <tlskey/starttls.h>

#include "test/lib/tkt.h"

struct opts {
	const char *myname, *sni, *connect, *port_file, *cert, *key;
	unsigned count, hold;
	int stall, query;
};

static void hold(unsigned sec)
{
	long long end = tkt_now_ms() + (long long)sec * 1000;

	/* Bounded: the test kills us by pid when it is done. */
	while (tkt_now_ms() < end)
		(void)poll(NULL, 0, 200);
}

/* SO_RCVLOWAT set on a socket before it is passed: the daemon puts it
 * back to 1 at admission (start_take_options), a sign that its worker has
 * the socket. */
#define SENTINEL_LOWAT 7

static void set_sentinel(int fd)
{
	int v = SENTINEL_LOWAT;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) < 0)
		tkt_die("SO_RCVLOWAT");
}

/* Wait (bounded) until the daemon has admitted the socket: the sentinel
 * is gone from the shared socket. */
static int wait_admitted(int dupfd, int ms)
{
	long long end = tkt_now_ms() + ms;

	while (tkt_now_ms() < end) {
		int v = 0;
		socklen_t sl = sizeof(v);

		if (getsockopt(dupfd, SOL_SOCKET, SO_RCVLOWAT, &v, &sl) == 0 && v != SENTINEL_LOWAT)
			return 0;
		(void)poll(NULL, 0, 2);
	}
	return -1;
}

static int freeze_nonblock(const struct opts *o)
{
	struct sockaddr_in a;
	struct tlskey_options opt = { .size = sizeof(opt), .nonblocking = 1 };
	int ls = tkt_listener4(0, 64, &a), s, peer, dupfd, pending;
	const unsigned char byte = 0x16; /* first byte of a handshake record */

	s = tkt_tcp_connect4(&a);
	peer = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (peer < 0)
		tkt_die("accept");
	dupfd = fcntl(s, F_DUPFD_CLOEXEC, 0);
	if (dupfd < 0)
		tkt_die("dup");
	set_sentinel(s);
	pending = tlskey_starttls(s, IPPROTO_TCP, TLSKEY_ROLE_SERVER, (char *)o->myname, 0, &opt, NULL, 0);
	if (pending < 0)
		tkt_die("tlskey_starttls");
	if (wait_admitted(dupfd, 5000) < 0)
		(void)fprintf(stderr, "datapath: the daemon never reset SO_RCVLOWAT (worker busy?)\n");
	if (fcntl(dupfd, F_SETFL, 0) < 0)
		tkt_die("F_SETFL");
	if (send(peer, &byte, 1, MSG_NOSIGNAL) != 1)
		tkt_die("send");
	(void)printf("FREEZE armed\n");
	(void)fflush(stdout);
	hold(o->hold);
	return 0;
}

static int freeze_linger(const struct opts *o)
{
	struct sockaddr_in a;
	struct tlskey_options opt = { .size = sizeof(opt), .nonblocking = 1 };
	struct linger lg = { .l_onoff = 1, .l_linger = 3600 };
	static char junk[64 * 1024];
	int ls = tkt_listener4(4096, 64, &a), s, peer, dupfd, pending, small = 4096;
	long long end;

	s = tkt_tcp_connect4(&a);
	peer = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (peer < 0)
		tkt_die("accept");
	(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		tkt_die("SO_LINGER");
	/* Fill our send buffer and the peer's window: the peer never reads. */
	if (fcntl(s, F_SETFL, O_NONBLOCK) < 0)
		tkt_die("F_SETFL");
	end = tkt_now_ms() + 5000;
	while (tkt_now_ms() < end) {
		ssize_t n = send(s, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = s, .events = POLLOUT };
			if (poll(&p, 1, 300) == 0)
				break; /* stays full */
			continue;
		}
		if (n < 0)
			tkt_die("send");
	}
	dupfd = fcntl(s, F_DUPFD_CLOEXEC, 0);
	if (dupfd < 0)
		tkt_die("dup");
	set_sentinel(s);
	pending = tlskey_starttls(s, IPPROTO_TCP, TLSKEY_ROLE_CLIENT, (char *)o->myname, 0, &opt, NULL, 0);
	if (pending < 0)
		tkt_die("tlskey_starttls");
	if (wait_admitted(dupfd, 5000) < 0)
		(void)fprintf(stderr, "datapath: the daemon never reset SO_RCVLOWAT (worker busy?)\n");
	/* Set it again after admission (a daemon that took the option back
	 * only then would now obey it), then leave the daemon holding the
	 * last reference and make it close. */
	(void)setsockopt(dupfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	(void)close(dupfd);
	(void)close(pending);
	(void)printf("LINGER armed\n");
	(void)fflush(stdout);
	hold(o->hold);
	(void)close(peer);
	return 0;
}

static int run_peer(const struct opts *o)
{
	gnutls_certificate_credentials_t cred;
	struct sockaddr_in a;
	int ls = tkt_listener4(0, 64, &a), *keep;
	unsigned done = 0;
	char tmp[4096];

	if (!o->port_file || !o->cert || !o->key)
		tkt_die("peer needs --port-file, --cert and --key");
	keep = calloc(o->count, sizeof(*keep));
	if (!keep || gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(cred, o->cert, o->key, GNUTLS_X509_FMT_PEM) < 0)
		tkt_die("credentials");
	tkt_port_file_write(o->port_file, ls);
	while (done < o->count) {
		gnutls_session_t s;
		int fd, r;
		struct pollfd p = { .fd = ls, .events = POLLIN };

		if (poll(&p, 1, (int)o->hold * 1000) <= 0)
			break;
		fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		keep[done++] = fd;
		if (o->stall) {
			/* Read the ClientHello, answer nothing. */
			p = (struct pollfd){ .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 5000) > 0 && read(fd, tmp, sizeof(tmp)) < 0)
				(void)fprintf(stderr, "PEER read: %s\n", strerror(errno));
			(void)printf("PEER stalled=%u\n", done);
			(void)fflush(stdout);
			continue;
		}
		if (gnutls_init(&s, GNUTLS_SERVER) < 0)
			tkt_die("gnutls_init");
		(void)gnutls_set_default_priority(s);
		(void)gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
		gnutls_transport_set_int(s, fd);
		gnutls_handshake_set_timeout(s, 10000);
		do
			r = gnutls_handshake(s);
		while (r < 0 && !gnutls_error_is_fatal(r));
		if (r < 0)
			(void)fprintf(stderr, "PEER handshake failed: %s\n", gnutls_strerror(r));
		/* Silent from now on: the session state goes, the socket stays. */
		gnutls_deinit(s);
		(void)printf("PEER handshakes=%u\n", done);
		(void)fflush(stdout);
	}
	hold(o->hold);
	for (unsigned i = 0; i < done; i++)
		(void)close(keep[i]);
	free(keep);
	gnutls_certificate_free_credentials(cred);
	return 0;
}

static int open_close(const struct opts *o)
{
	struct sockaddr_in a = tkt_addr4(o->connect);
	unsigned n = 0;

	for (unsigned i = 0; i < o->count; i++) {
		int s = tkt_tcp_connect4(&a), pfd;
		static const char line[] = "hello, then gone\n";

		pfd = starttls_client(s, IPPROTO_TCP, (char *)o->myname, 0, (char *)o->sni, NULL, 0);
		if (pfd < 0) {
			(void)fprintf(stderr, "OPENCLOSE start %u: %s: %s\n", i, tkt_errno_name(errno),
				      tlskey_last_error());
			continue;
		}
		if (write(pfd, line, sizeof(line) - 1) < 0)
			(void)fprintf(stderr, "OPENCLOSE write %u: %s\n", i, strerror(errno));
		(void)close(pfd);
		n++;
	}
	(void)printf("OPENCLOSE n=%u\n", n);
	return 0;
}

static int start(const struct opts *o)
{
	struct sockaddr_in a = tkt_addr4(o->connect);
	int s = tkt_tcp_connect4(&a), pfd;

	pfd = starttls_client(s, IPPROTO_TCP, (char *)o->myname, 0, (char *)o->sni, NULL, 0);
	if (pfd < 0) {
		(void)printf("START errno=%s: %s\n", tkt_errno_name(errno), tlskey_last_error());
		return 0;
	}
	(void)printf("START ok\n");
	if (o->query) {
		struct tlskey_info *info = calloc(1, sizeof(*info));

		if (info && tlskey_query(pfd, info) == 0)
			(void)printf("QUERY flags=0x%x\n", info->flags);
		else
			(void)printf("QUERY errno=%s\n", tkt_errno_name(errno));
		free(info);
	}
	(void)close(pfd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .count = 1, .hold = 30 };

	tkt_prog_set("datapath", 2);
	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		(void)fprintf(stderr, "usage: datapath MODE [options]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--stall") || !strcmp(a, "--query")) {
			*(a[2] == 's' ? &o.stall : &o.query) = 1;
			continue;
		}
		if (!v) {
			(void)fprintf(stderr, "datapath: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--myname"))
			o.myname = v;
		else if (!strcmp(a, "--sni"))
			o.sni = v;
		else if (!strcmp(a, "--connect"))
			o.connect = v;
		else if (!strcmp(a, "--port-file"))
			o.port_file = v;
		else if (!strcmp(a, "--cert"))
			o.cert = v;
		else if (!strcmp(a, "--key"))
			o.key = v;
		else if (!strcmp(a, "--count"))
			o.count = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--hold"))
			o.hold = (unsigned)strtoul(v, NULL, 10);
		else {
			(void)fprintf(stderr, "datapath: unknown option %s\n", a);
			return 2;
		}
	}
	if (o.count < 1 || o.count > 10000 || o.hold > 3600) {
		(void)fprintf(stderr, "datapath: --count 1..10000, --hold up to 3600\n");
		return 2;
	}
	if (!strcmp(argv[1], "peer"))
		return run_peer(&o);
	if (!o.myname) {
		(void)fprintf(stderr, "datapath: %s needs --myname\n", argv[1]);
		return 2;
	}
	if (!strcmp(argv[1], "freeze-nonblock"))
		return freeze_nonblock(&o);
	if (!strcmp(argv[1], "freeze-linger"))
		return freeze_linger(&o);
	if (!o.connect) {
		(void)fprintf(stderr, "datapath: %s needs --connect\n", argv[1]);
		return 2;
	}
	if (!strcmp(argv[1], "open-close"))
		return open_close(&o);
	if (!strcmp(argv[1], "start"))
		return start(&o);
	(void)fprintf(stderr, "datapath: unknown mode %s\n", argv[1]);
	return 2;
}
