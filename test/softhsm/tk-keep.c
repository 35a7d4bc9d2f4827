/* tk-keep: starts in one process, to see which control connection each
 * one goes over (test/softhsm/ctl-keep.sh).
 *
 *   tk-keep PORT MYNAME SNI STEP...
 *
 * Each STEP, in order:
 *   start       connect to 127.0.0.1:PORT, starttls_client(), print
 *               "START ok pid=P peer=NAME" or "START errno=NAME pid=P"
 *   fork        fork(); the child runs the remaining steps, the parent
 *               waits for it (so their lines never interleave)
 *   drop:U:G    setgroups(0), setresgid(G), setresuid(U)
 *   seteuid:U:G setegid(G), seteuid(U) (for U 0 the other way round):
 *               reversible, the real and saved ids stay root's
 *   connect-as-root  just before the next connect() to a UNIX socket
 *               (the library's, to the daemon) switch to euid and egid 0,
 *               and stay: another thread's seteuid() between the
 *               library's look at our credentials and its connect, made
 *               deterministic
 *   wait:FILE   wait until FILE exists (at most 30 s)
 *   handoff     a child connects to the daemon itself, gets a start
 *               answered (with KEEP), passes its control socket to us and
 *               exits; we send a start on that socket and print
 *               "HANDOFF keep=K errno=NAME" (the second answer's errno)
 *   pipeline    a start answered with KEEP, then two STARTs sent at once
 *               on that connection without waiting: prints "PIPELINE
 *               keep=K" and an "ANSWER errno=NAME" line per RESULT that
 *               comes back, then "END eof" when the daemon closes it
 *   other       a start answered with KEEP, then a CHECK request on that
 *               connection: "OTHER keep=K", "ANSWER errno=NAME type=T"
 *               for what comes back, then "END eof" or "END open"
 *   stray       find the control connection the library kept (a UNIX
 *               socket of ours connected to TLSKEYD_SOCKET), send a CHECK
 *               for MYNAME on it ourselves, and print "STRAY" then the
 *               answers as "other" does ("STRAY none": there is none)
 *   hangup      a start answered with KEEP, then a START on that
 *               connection for a peer that never answers (our own
 *               listener), and the control socket closed once the
 *               ClientHello has come: "HANGUP keep=K", then "PEER closed
 *               MS" when the daemon gives that connection up (EOF or a
 *               reset on our end), or "PEER open" after 5 s
 * Exits 0 when every step ran (a refused start is a result, not a
 * failure). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/wire.h"
#include "test/lib/tkt.h"
#include "tlskey/starttls.h"

/* connect-as-root: armed for the next connect() to a UNIX socket. */
static int connect_as_root;

/* Our connect() stands in for libc's, for libtlskey too (the executable's
 * definition comes first in symbol lookup; exported: test/softhsm/local.mk). */
__attribute__((visibility("default"))) int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	int armed = connect_as_root && sa && sa->sa_family == AF_UNIX;

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (armed) {
		connect_as_root = 0;
		if (seteuid(0) < 0 || setegid(0) < 0)
			tkt_dief("connect-as-root: seteuid(0)");
	}
	return real(fd, sa, len);
}

static int do_start(unsigned port, const char *myname, const char *sni)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char name[256], peer[512] = "";
	int fd = tkt_tcp_connect4(&a), pfd;

	if (fd < 0)
		tkt_dief("connect to 127.0.0.1:%u", port);
	(void)snprintf(name, sizeof(name), "%s", myname);
	{
		char sni_buf[256];

		(void)snprintf(sni_buf, sizeof(sni_buf), "%s", sni);
		pfd = starttls_client(fd, IPPROTO_TCP, name, 0, sni_buf, peer, sizeof(peer));
	}
	if (pfd < 0) {
		(void)printf("START errno=%s pid=%d\n", strerrorname_np(errno), (int)getpid());
	} else {
		(void)printf("START ok pid=%d peer=%s\n", (int)getpid(), peer);
		(void)close(pfd);
	}
	return fflush(stdout);
}

/* One byte and a descriptor over a UNIX socket, and back. */
static int send_fd(int sock, int fd, char byte)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock, char *byte)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int peer_socket(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = tkt_tcp_connect4(&a);

	if (fd < 0)
		tkt_dief("connect to 127.0.0.1:%u", port);
	return fd;
}

/* Send one START on ctl for a new connection to the peer. */
static void send_start(int ctl, unsigned port, const char *myname, const char *sni)
{
	struct tk_msg q = { .type = TK_MSG_START, .role = TK_ROLE_CLIENT, .proto = IPPROTO_TCP };
	int net = peer_socket(port);

	q.present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_PROTO) | (1u << TK_TAG_FLAGS);
	if (tk_msg_set_str(&q, TK_TAG_MYNAME, myname) < 0 || tk_msg_set_str(&q, TK_TAG_SNINAME, sni) < 0 ||
	    tk_msg_send(ctl, &q, net) < 0)
		tkt_die("send START");
	(void)close(net);
}

/* One START on ctl for a new connection to the peer; the RESULT in *m. */
static void raw_start(int ctl, unsigned port, const char *myname, const char *sni, struct tk_msg *m)
{
	int fd = -1;

	send_start(ctl, port, myname, sni);
	if (tk_msg_recv(ctl, m, &fd) < 0 || m->type != TK_MSG_RESULT)
		tkt_die("no RESULT");
	if (fd >= 0)
		(void)close(fd);
}

/* A new raw connection to the daemon and its first START, which must
 * succeed; *ret_keep: the daemon keeps the connection. */
static int first_start(unsigned port, const char *myname, const char *sni, int *ret_keep)
{
	static struct tk_msg m;
	int c = tkt_unix_connect(getenv("TLSKEYD_SOCKET"), SOCK_SEQPACKET);

	if (c < 0)
		tkt_die("connect to the daemon");
	raw_start(c, port, myname, sni, &m);
	if (m.err)
		tkt_dief("first start: errno %u", (unsigned)m.err);
	*ret_keep = TK_HAS(&m, TK_TAG_KEEP) && m.keep == 1;
	return c;
}

static void do_handoff(unsigned port, const char *myname, const char *sni)
{
	static struct tk_msg m;
	int sv[2], st = 0, ctl = -1, keep;
	pid_t p;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		tkt_die("socketpair");
	p = fork();
	if (p < 0)
		tkt_die("fork");
	if (p == 0) {
		int c = first_start(port, myname, sni, &keep);

		/* Tell whether it was kept, with the socket. */
		if (send_fd(sv[1], c, (char)('0' + keep)) < 0)
			tkt_die("pass the socket");
		_exit(0);
	}
	(void)close(sv[1]);
	{
		char tag = 0;

		ctl = recv_fd(sv[0], &tag);
		keep = tag == '1';
	}
	if (ctl < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		tkt_die("the child failed");
	raw_start(ctl, port, myname, sni, &m);
	(void)printf("HANDOFF keep=%d errno=%s\n", keep, m.err ? strerrorname_np((int)m.err) : "0");
	(void)fflush(stdout);
	(void)close(ctl);
	(void)close(sv[0]);
}

/* The first start of a raw connection to the daemon; prints "WHAT keep=K". */
static int kept_conn(unsigned port, const char *myname, const char *sni, const char *what)
{
	int keep, c = first_start(port, myname, sni, &keep);

	(void)printf("%s keep=%d\n", what, keep);
	return c;
}

/* Print every answer until the daemon closes ctl (bounded by alarm()). */
static void answers(int ctl, int want_eof)
{
	static struct tk_msg m;

	for (;;) {
		int fd = -1, r = tk_msg_recv(ctl, &m, &fd);

		if (fd >= 0)
			(void)close(fd);
		if (r == -EAGAIN || r == -EINTR)
			continue;
		if (r < 0) {
			(void)printf("END eof\n");
			break;
		}
		(void)printf("ANSWER errno=%s type=%u\n", m.err ? strerrorname_np((int)m.err) : "0",
			     (unsigned)m.type);
		if (!want_eof) {
			struct timeval tv = { .tv_sec = 2 };
			char b;

			/* Then: closed by the daemon, or still open after 2 s. */
			(void)setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			(void)printf("END %s\n", recv(ctl, &b, 1, 0) == 0 ? "eof" : "open");
			break;
		}
	}
	(void)fflush(stdout);
	(void)close(ctl);
}

static void do_pipeline(unsigned port, const char *myname, const char *sni)
{
	int ctl = kept_conn(port, myname, sni, "PIPELINE");

	send_start(ctl, port, myname, sni);
	send_start(ctl, port, myname, sni);
	answers(ctl, 1);
}

static void do_other(unsigned port, const char *myname, const char *sni)
{
	struct tk_msg q = { .type = TK_MSG_CHECK, .role = TK_ROLE_CLIENT };
	int ctl = kept_conn(port, myname, sni, "OTHER");

	q.present = 1u << TK_TAG_ROLE;
	if (tk_msg_set_str(&q, TK_TAG_MYNAME, myname) < 0 || tk_msg_send(ctl, &q, -1) < 0)
		tkt_die("send CHECK");
	answers(ctl, 0);
}

/* The library's kept connection, found among our descriptors: what code
 * running after a privilege drop could find too.  -1 if none. */
static int kept_fd(void)
{
	const char *path = getenv("TLSKEYD_SOCKET");

	for (int fd = 3; fd < 1024 && path; fd++) {
		struct sockaddr_un a;
		socklen_t al = sizeof(a);
		int dom = 0;
		socklen_t dl = sizeof(dom);

		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 && dom == AF_UNIX &&
		    getpeername(fd, (struct sockaddr *)&a, &al) == 0 && al > sizeof(sa_family_t) &&
		    !strncmp(a.sun_path, path, sizeof(a.sun_path)))
			return fd;
	}
	return -1;
}

static void do_stray(const char *myname)
{
	struct tk_msg q = { .type = TK_MSG_CHECK, .role = TK_ROLE_CLIENT };
	int ctl = kept_fd();

	if (ctl < 0) {
		(void)printf("STRAY none\n");
		(void)fflush(stdout);
		return;
	}
	(void)printf("STRAY\n");
	q.present = 1u << TK_TAG_ROLE;
	if (tk_msg_set_str(&q, TK_TAG_MYNAME, myname) < 0 || tk_msg_send(ctl, &q, -1) < 0)
		tkt_die("send CHECK");
	answers(ctl, 0);
}

static void do_hangup(unsigned port, const char *myname, const char *sni)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct timeval tv = { .tv_sec = 5 };
	int ctl = kept_conn(port, myname, sni, "HANGUP");
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), srv;
	long long t0;
	char b[4096];
	ssize_t n;

	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		tkt_die("listener");
	send_start(ctl, ntohs(a.sin_port), myname, sni);
	srv = accept(ls, NULL, NULL);
	if (srv < 0 || setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		tkt_die("accept");
	/* The daemon's ClientHello: its handshake runs and waits for us. */
	if (recv(srv, b, sizeof(b), 0) <= 0)
		tkt_die("no ClientHello");
	t0 = tkt_now_ms();
	(void)close(ctl);
	do
		n = recv(srv, b, sizeof(b), 0);
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		(void)printf("PEER closed %lld\n", tkt_now_ms() - t0);
	else
		(void)printf("PEER open\n");
	(void)fflush(stdout);
	(void)close(srv);
	(void)close(ls);
}

/* "STEP:UID:GID" with the step's name `skip` bytes long: the two ids, or
 * exit naming the step. */
static void parse_ids(const char *step, size_t skip, unsigned long *u, unsigned long *g)
{
	char ids[64], *colon;

	(void)snprintf(ids, sizeof(ids), "%s", step + skip);
	colon = strchr(ids, ':');
	if (!colon)
		tkt_dief("%.*sUID:GID", (int)skip, step);
	*colon = '\0';
	if (tkt_parse_ulong(ids, 10, 1u << 31, u) < 0 || tkt_parse_ulong(colon + 1, 10, 1u << 31, g) < 0)
		tkt_dief("%.*sUID:GID", (int)skip, step);
}

int main(int argc, char **argv)
{
	unsigned long port;

	tkt_prog_set("tk-keep", 2);
	if (argc < 5 || tkt_parse_ulong(argv[1], 10, 65535, &port) < 0)
		tkt_die("usage: tk-keep PORT MYNAME SNI STEP...");
	(void)alarm(60);
	for (int i = 4; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "start")) {
			(void)do_start((unsigned)port, argv[2], argv[3]);
		} else if (!strcmp(s, "handoff")) {
			do_handoff((unsigned)port, argv[2], argv[3]);
		} else if (!strcmp(s, "pipeline")) {
			do_pipeline((unsigned)port, argv[2], argv[3]);
		} else if (!strcmp(s, "other")) {
			do_other((unsigned)port, argv[2], argv[3]);
		} else if (!strcmp(s, "stray")) {
			do_stray(argv[2]);
		} else if (!strcmp(s, "hangup")) {
			do_hangup((unsigned)port, argv[2], argv[3]);
		} else if (!strcmp(s, "fork")) {
			int st = 0;
			pid_t p = fork();

			if (p < 0)
				tkt_die("fork");
			if (p > 0) {
				if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
					tkt_die("the child failed");
				return 0;
			}
		} else if (!strncmp(s, "drop:", 5)) {
			unsigned long u, g;

			parse_ids(s, 5, &u, &g);
			if (setgroups(0, NULL) < 0 || setresgid((gid_t)g, (gid_t)g, (gid_t)g) < 0 ||
			    setresuid((uid_t)u, (uid_t)u, (uid_t)u) < 0)
				tkt_dief("drop to %lu:%lu", u, g);
		} else if (!strncmp(s, "seteuid:", 8)) {
			unsigned long u, g;

			parse_ids(s, 8, &u, &g);
			/* Back to root: the uid first, which allows the gid. */
			if (u == 0 ? seteuid(0) < 0 || setegid((gid_t)g) < 0
				   : setegid((gid_t)g) < 0 || seteuid((uid_t)u) < 0)
				tkt_dief("seteuid to %lu:%lu", u, g);
		} else if (!strcmp(s, "connect-as-root")) {
			connect_as_root = 1;
		} else if (!strncmp(s, "wait:", 5)) {
			struct stat st;
			int n = 0;

			while (stat(s + 5, &st) < 0 && n++ < 300)
				(void)usleep(100000);
			if (n > 300)
				tkt_dief("%s did not appear", s + 5);
		} else {
			tkt_dief("unknown step %s", s);
		}
	}
	return 0;
}
