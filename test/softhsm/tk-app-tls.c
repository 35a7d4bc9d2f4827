/* tk-app: the TLS modes (server, client, DTLS server, query, badfd) and
 * what follows a handshake: the report, --query, the relay.  See tk-app.c. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

static const char *sni_allow_name;

/* checksni callback for --sni-allow / --sni-deny. */
static int check_sni(char *name)
{
	int ok = sni_allow_name && strcmp(name, sni_allow_name) == 0;

	(void)fprintf(stderr, "SNI=%s\n", name);
	return ok;
}

/* The negotiated ALPN id of the last blocking start (--alpn). */
static char alpn_sel[4096];

/* --alpn LIST into the options: ids split at commas, empty ones kept. */
static void set_alpn(const struct opts *o, struct tlskey_options *to)
{
	static char copy[4096];
	static const char *ids[64];
	size_t n = 0;
	char *p = copy;

	if (!o->alpn) {
		to->alpn_strict = o->alpn_strict;
		return;
	}
	if (strlen(o->alpn) >= sizeof(copy))
		usage("--alpn too long");
	memcpy(copy, o->alpn, strlen(o->alpn) + 1);
	for (;;) {
		char *comma = strchr(p, ',');

		if (n == sizeof(ids) / sizeof(ids[0]))
			usage("--alpn: too many ids");
		ids[n++] = p;
		if (!comma)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	to->alpn = o->alpn_null ? NULL : ids;
	to->n_alpn = n;
	to->alpn_strict = o->alpn_strict;
	if (!o->nonblocking) {
		to->alpn_selected = alpn_sel;
		to->alpn_selected_len = o->alpn_len ? o->alpn_len : 32;
	}
}

/* Report the outcome of one starttls_*() call.  Returns -1 to go on with
 * the relay, otherwise the exit status for this connection. */
static int report_starttls(const struct opts *o, int pfd, int e, const char *peer)
{
	if (pfd < 0) {
		(void)fprintf(stderr, "ERROR errno=%s %s: %s\n", tkt_errno_name(e), strerror(e),
			      tlskey_last_error());
		if (!o->expect)
			return EXIT_STARTTLS;
		if (tkt_errno_listed(o->expect, e)) {
			(void)fprintf(stderr, "EXPECTED errno=%s\n", tkt_errno_name(e));
			return 0;
		}
		(void)fprintf(stderr, "UNEXPECTED errno=%s (wanted %s)\n", tkt_errno_name(e), o->expect);
		return EXIT_EXPECT;
	}
	(void)fprintf(stderr, "PEER=%s\n", peer ? peer : "");
	if (o->alpn && !o->nonblocking)
		(void)fprintf(stderr, "ALPN=%s\n", alpn_sel);
	(void)fprintf(stderr, "PROTECTED=%s\n", fd_kind(pfd));
	if (o->expect) {
		(void)fprintf(stderr, "UNEXPECTED success (wanted %s)\n", o->expect);
		(void)close(pfd);
		return EXIT_EXPECT;
	}
	return -1;
}

/* Does any option need the extended API? */
static int use_ext(const struct opts *o)
{
	return o->role_swap || o->hs_timeout || o->allow_hs_timeout || o->nonblocking || o->query ||
	       o->cert_out || o->udp || o->alpn || o->alpn_strict || tkapp_sess.query_full;
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
	set_alpn(o, &to);
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
	t0 = tkt_now_ms();
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
			(void)fprintf(stderr, "NONBLOCK=ok\nNONBLOCK-MS=%lld\n", tkt_now_ms() - t0);
			return pfd;
		}
		(void)fprintf(stderr, "NONBLOCK-SNI=answered\n");
	}
	(void)fprintf(stderr, "NONBLOCK=ok\nNONBLOCK-MS=%lld\n", tkt_now_ms() - t0);
	pfd = tlskey_finish(pending, peer, peer_len);
	*ret_errno = errno;
	return pfd;
}

const char *state_name(int st)
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

/* The negotiated ALPN id, which only the size-versioned query carries. */
static void print_query_alpn(int pfd)
{
	static unsigned char chain[256 * 1024];
	static char ids[16 * 1024];
	struct tlskey_session_info s = { .size = sizeof(s), .peer_chain = chain,
					 .peer_chain_cap = sizeof(chain), .peer_ids = ids,
					 .peer_ids_cap = sizeof(ids) };

	if (tlskey_query_session(pfd, &s) == 0)
		(void)fprintf(stderr, "QUERY-ALPN=%s\n", s.alpn);
	else /* a line no test expects, with the reason */
		(void)fprintf(stderr, "QUERY-ALPN=? errno=%s: %s\n", tkt_errno_name(errno), tlskey_last_error());
}

static void print_query(const struct tlskey_info *i, int pfd)
{
	(void)fprintf(stderr,
		      "QUERY state=%s version=%s cipher=%s peer=%s local=%s mapped=%s hs_ms=%u "
		      "certlen=%zu\n",
		      state_name(i->state), i->version, i->cipher_suite, i->peer, i->local,
		      i->mapped_user, i->handshake_ms, i->peer_cert_len);
	print_query_alpn(pfd);
	/* A line of its own: tests match the QUERY line whole. */
	(void)fprintf(stderr, "QUERYFLAGS resumed=%s flags=0x%x\n",
		      (i->flags & TLSKEY_INFO_RESUMED) ? "yes" : "no", i->flags);
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

		(void)fprintf(stderr, "QUERY-ERROR errno=%s %s: %s\n", tkt_errno_name(e), strerror(e),
			      tlskey_last_error());
		rc = EXIT_STARTTLS;
		goto out;
	}
	if (o->allow_hs_timeout)
		(void)fprintf(stderr, "STATE=%s\n", state_name(info->state));
	if (o->query)
		print_query(info, pfd);
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
	rc = sess_after_start(pfd);
	if (rc) {
		(void)close(pfd);
		return rc;
	}
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
		tkt_port_file_write(o->port_file, s);
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

int run_server(const struct opts *o)
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
		tkt_port_file_write(o->port_file, lsock);

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

int run_client(const struct opts *o)
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
	if (tkapp_sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &tkapp_sndbuf, sizeof(tkapp_sndbuf)) < 0)
		fail("SO_SNDBUF");
	if (tkapp_recverr) {
		int one = 1;

		if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) < 0)
			fail("IP_RECVERR");
	}
	freeaddrinfo(ai);
	pfd = start_tls(o, fd, role, sni_callback(o), peer, o->peername_len, &e);
	rc = serve(o, pfd, e, peer, 1);
	free(peer);
	return rc;
}

/* tlskey_query() on a descriptor tlskeyd never handed out. */
int run_query(const struct opts *o)
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
		print_query(info, fd);
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

int run_badfd(const struct opts *o)
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
