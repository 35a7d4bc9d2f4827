/* attack: the fairness and admission attacks of test/hostile, as one
 * helper.  Every slot below is kept up for HOLD_S seconds: whenever the
 * daemon answers or closes one, the attacker opens it again (at most every
 * 200 ms per slot), as a real attacker would.
 *
 *   attack handshakes SOCKET N TIMER_MS HOLD_S MYNAME
 *       N START requests (client role, MYNAME, handshake timer TIMER_MS),
 *       each with a TCP connection to a local server that never answers.
 *   attack idle SOCKET N HOLD_S
 *       N connections to the daemon that never send a request.
 *   attack public SOCKET N HOLD_S MYNAME
 *       A public app server (server role, MYNAME, the daemon's default
 *       timer) and a remote peer that opens N connections to it and never
 *       sends a byte.
 *   attack opath SOCKET PATH
 *       One START request passing an O_PATH descriptor of PATH.
 *
 * The slot modes print "READY n=N up=U refused=R" once every slot was
 * tried, then at the end "DONE n=N answers=A" and "ERRNO name=count" for
 * the daemon's answers.  opath prints "OPATH errno=NAME: message".  Only
 * loopback addresses; every wait is bounded. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/wire.h"
#include "test/lib/tkt.h"

enum kind { K_HANDSHAKES, K_IDLE, K_PUBLIC };

struct slot {
	int ctl;                 /* our connection to the daemon */
	long long retry_at;      /* reopen not before (ms) */
};

static const char *sock_path, *myname;
static unsigned timer_ms;
static enum kind kind;
static int silent_srv = -1; /* K_HANDSHAKES: the server that never answers */
static int pub_srv = -1;    /* K_PUBLIC: the public app's listener */
static struct sockaddr_in srv_addr;
static unsigned errs[4096], answers;

/* Accept what is pending on a listener and keep it open (silently). */
static int accept_one(int lsock)
{
	int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		tkt_die("accept");
	return s;
}

static int send_start(int ctl, int role, unsigned timeout, int fd)
{
	struct tk_msg m = { .type = TK_MSG_START, .role = (uint8_t)role, .proto = IPPROTO_TCP };

	m.timeout_ms = timeout;
	m.present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_PROTO) | (1u << TK_TAG_FLAGS) |
		    (1u << TK_TAG_TIMEOUT_MS);
	if (tk_msg_set_str(&m, TK_TAG_MYNAME, myname) < 0)
		return -EINVAL;
	return tk_msg_send(ctl, &m, fd);
}

/* Open slot s.  Returns 0, or -1 if the daemon refused it at once. */
static int slot_open(struct slot *s)
{
	int net = -1, peer = -1, r = 0;

	s->ctl = tkt_unix_connect(sock_path, SOCK_SEQPACKET);
	if (s->ctl < 0)
		return -1;
	switch (kind) {
	case K_IDLE:
		return 0;
	case K_HANDSHAKES:
		net = tkt_tcp_connect4(&srv_addr);
		/* The silent server accepts, so the connection is complete. */
		(void)accept_one(silent_srv); /* leaked on purpose: held open */
		r = send_start(s->ctl, TK_ROLE_CLIENT, timer_ms, net);
		break;
	case K_PUBLIC:
		peer = tkt_tcp_connect4(&srv_addr); /* the remote peer: never sends a byte */
		net = accept_one(pub_srv);
		r = send_start(s->ctl, TK_ROLE_SERVER, 0, net);
		break;
	}
	(void)close(net);
	(void)peer; /* held open for the life of the process */
	return r < 0 ? -1 : 0;
}

/* The daemon answered or closed slot s: count it. */
static void slot_answered(struct slot *s)
{
	struct tk_msg *m = malloc(sizeof(*m));
	int fd = -1, r;

	if (!m)
		tkt_die("malloc");
	r = tk_msg_recv(s->ctl, m, &fd);
	if (r == 0 && m->type == TK_MSG_RESULT && m->err < 4096) {
		errs[m->err]++;
		answers++;
	} else {
		errs[r < 0 && -r < 4096 ? -r : 0]++;
	}
	if (fd >= 0)
		(void)close(fd);
	free(m);
	(void)close(s->ctl);
	s->ctl = -1;
	s->retry_at = tkt_now_ms() + 500;
}

static int run_slots(unsigned n, int hold_s)
{
	struct slot *slots = calloc(n, sizeof(*slots));
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	unsigned up = 0, refused = 0;
	long long end = tkt_now_ms() + hold_s * 1000LL;
	struct rlimit rl;

	if (!slots || !pfd)
		tkt_die("calloc");
	/* Reopened slots leak the silent ends on purpose: room for many. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (kind == K_HANDSHAKES)
		silent_srv = tkt_listener4(0, 4096, &srv_addr);
	if (kind == K_PUBLIC)
		pub_srv = tkt_listener4(0, 4096, &srv_addr);
	for (unsigned i = 0; i < n; i++) {
		slots[i].ctl = -1;
		if (slot_open(&slots[i]) == 0)
			up++;
		else
			refused++;
	}
	(void)printf("READY n=%u up=%u refused=%u\n", n, up, refused);
	(void)fflush(stdout);
	while (tkt_now_ms() < end) {
		long long now = tkt_now_ms();

		for (unsigned i = 0; i < n; i++) {
			if (slots[i].ctl < 0 && now >= slots[i].retry_at && slot_open(&slots[i]) < 0 &&
			    slots[i].ctl >= 0) {
				(void)close(slots[i].ctl);
				slots[i].ctl = -1;
			}
			if (slots[i].ctl < 0)
				slots[i].retry_at = slots[i].retry_at > now ? slots[i].retry_at : now + 500;
			pfd[i] = (struct pollfd){ .fd = slots[i].ctl, .events = POLLIN };
		}
		if (poll(pfd, n, 100) < 0 && errno != EINTR)
			tkt_die("poll");
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				slot_answered(&slots[i]);
	}
	(void)printf("DONE n=%u answers=%u\n", n, answers);
	for (unsigned e = 0; e < 4096; e++)
		if (errs[e])
			(void)printf("ERRNO %s=%u\n", e ? strerrorname_np((int)e) : "none", errs[e]);
	return 0;
}

static int run_opath(const char *path)
{
	struct tk_msg *m = malloc(sizeof(*m));
	struct pollfd p;
	int ctl, fd, r, extra = -1;

	if (!m)
		tkt_die("malloc");
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		tkt_die(path);
	ctl = tkt_unix_connect(sock_path, SOCK_SEQPACKET);
	if (ctl < 0)
		tkt_die("connect to the daemon");
	myname = "alice@example.test";
	r = send_start(ctl, TK_ROLE_CLIENT, 0, fd);
	if (r < 0) {
		errno = -r;
		tkt_die("send");
	}
	p = (struct pollfd){ .fd = ctl, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1) {
		(void)printf("OPATH no answer\n");
		return 5;
	}
	r = tk_msg_recv(ctl, m, &extra);
	if (r < 0 || m->type != TK_MSG_RESULT) {
		(void)printf("OPATH bad answer: %s\n", strerror(r < 0 ? -r : EBADMSG));
		return 5;
	}
	(void)printf("OPATH errno=%s: %s\n", m->err ? strerrorname_np((int)m->err) : "none", m->message);
	return 0;
}

int main(int argc, char **argv)
{
	tkt_prog_set("attack", 1);
	if (argc < 3) {
		(void)fprintf(stderr, "usage: see test/hostile/attack.c\n");
		return 2;
	}
	sock_path = argv[2];
	if (argc == 7 && !strcmp(argv[1], "handshakes")) {
		kind = K_HANDSHAKES;
		timer_ms = (unsigned)strtoul(argv[4], NULL, 10);
		myname = argv[6];
		return run_slots((unsigned)atoi(argv[3]), atoi(argv[5]));
	}
	if (argc == 5 && !strcmp(argv[1], "idle")) {
		kind = K_IDLE;
		return run_slots((unsigned)atoi(argv[3]), atoi(argv[4]));
	}
	if (argc == 6 && !strcmp(argv[1], "public")) {
		kind = K_PUBLIC;
		myname = argv[5];
		return run_slots((unsigned)atoi(argv[3]), atoi(argv[4]));
	}
	if (argc == 4 && !strcmp(argv[1], "opath"))
		return run_opath(argv[3]);
	(void)fprintf(stderr, "usage: see test/hostile/attack.c\n");
	return 2;
}
