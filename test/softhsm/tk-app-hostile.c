/* tk-app hostile: clients that speak the wire protocol badly on purpose,
 * to check that the daemon survives them.  See tk-app.c. */
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
	"alpn-empty-id", /* START whose ALPN list has an empty id */
	"alpn-long-id",  /* ... a 255-byte id (RFC 7301 allows it, we do not) */
	"alpn-nine",     /* ... nine ids */
	"alpn-overrun",  /* ... an id length running past the item */
	NULL,
};

/* Append a raw ALPN item for mode to the START in buf (len bytes) and fix
 * the header's body length; returns the new length. */
static size_t add_raw_alpn(uint8_t *buf, size_t len, const char *mode)
{
	uint8_t item[300];
	size_t n = 0;

	if (strcmp(mode, "alpn-empty-id") == 0) {
		memcpy(item, "\0\2h2", 4);
		n = 4;
	} else if (strcmp(mode, "alpn-long-id") == 0) {
		item[0] = 255;
		memset(item + 1, 'x', 255);
		n = 256;
	} else if (strcmp(mode, "alpn-nine") == 0) {
		for (n = 0; n < 18; n += 2)
			item[n] = 1, item[n + 1] = (uint8_t)('a' + n / 2);
	} else {
		memcpy(item, "\2h2\11http", 8); /* 9 claimed, 4 there */
		n = 8;
	}
	buf[len] = 0;
	buf[len + 1] = TK_TAG_ALPN;
	buf[len + 2] = (uint8_t)(n >> 8);
	buf[len + 3] = (uint8_t)n;
	memcpy(buf + len + 4, item, n);
	len += 4 + n;
	put_u32(buf + 4, (uint32_t)(len - TK_WIRE_HDR_LEN));
	return len;
}

int run_hostile(const char *path, const char *mode, unsigned timeout)
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
			(void)fprintf(stderr, "HOSTILE stream: connect refused (%s)\n", tkt_errno_name(errno));
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
		len = tkt_start_msg(buf, sizeof(buf), "alice@example.test");
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
		len = tkt_start_msg(buf, sizeof(buf), "alice@example.test");
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
		} else if (strncmp(mode, "alpn-", 5) == 0) {
			len = add_raw_alpn(buf, len, mode);
			pass[npass++] = extra[0];
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
		(void)fprintf(stderr, "HOSTILE %s: send failed: %s\n", mode, tkt_errno_name(errno));
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
			(void)fprintf(stderr, "HOSTILE %s: bad reply: %s\n", mode, tkt_errno_name(-r));
		else if (m.type == TK_MSG_RESULT && m.err != 0)
			(void)fprintf(stderr, "HOSTILE %s: error reply errno=%s: %s\n", mode,
				      tkt_errno_name((int)m.err), m.message);
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
