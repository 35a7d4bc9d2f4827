/* tt-backend: plaintext peers for the tlskey-tunnel tests (no python,
 * socat or ncat needed).
 *
 *   tt-backend echo (--listen 127.0.0.1:0 | --unix PATH) [--port-file F]
 *              [--proxy-v2] [--count N] [--at-eof] [--timeout SEC]
 *       Serves N connections (default 1) one after the other.  With
 *       --proxy-v2 each must start with a PROXY protocol v2 header, which
 *       is checked strictly and printed on stderr as one line:
 *         PROXY fam=tcp4 src=A:P dst=A:P client=0xNN verify=N version=V cipher=C cn=ID
 *         (and "PROXY-ALPN=ID" after it when the header has a PP2_TYPE_ALPN TLV)
 *       Then it echoes: as it reads (default), or with --at-eof only after
 *       the peer half-closed (which proves that half-close travels through
 *       the tunnel), then half-closes itself.  Per connection it prints
 *       "BACKEND bytes=N" and writes what it received to stdout.
 *   tt-backend source (--listen 127.0.0.1:0 | --unix PATH) [--port-file F]
 *              [--proxy-v2] [--timeout SEC]
 *       Serves one connection: sends stdin to it (blocking, so the
 *       tunnel's backpressure holds it), half-closes, prints
 *       "SOURCE sent=N", then waits for the other side's end and prints
 *       "SOURCE end=eof" or "SOURCE end=reset".  A failed send prints
 *       "SOURCE error sent=N: REASON" and exits 1.
 *   tt-backend send --connect ADDR:PORT|unix:PATH [--timeout SEC]
 *       A plaintext client: sends stdin, half-closes at stdin EOF, copies
 *       what comes back to stdout until EOF, prints "SEND sent=N received=M".
 *
 * Exit status: 0 ok, 1 error (message on stderr), 2 usage. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test/lib/tkt.h"

#define BUF 65536
#define AT_EOF_MAX (16u * 1024u * 1024u)
#define PP2_MAX_BODY 2048u

static unsigned timeout_sec = 30;

static void die(const char *what)
{
	(void)fprintf(stderr, "tt-backend: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void bad(const char *msg)
{
	(void)fprintf(stderr, "tt-backend: %s\n", msg);
	exit(1);
}

static void usage(void)
{
	(void)fputs("usage: see the comment at the top of test/tunnel/tt-backend.c\n", stderr);
	exit(2);
}

/* Read exactly n bytes (bounded by the global timeout). */
static void read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, (int)timeout_sec * 1000) <= 0)
			bad("timeout or poll error while reading the PROXY header");
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0)
			bad("PROXY invalid: EOF inside the header");
		p += r;
		n -= (size_t)r;
	}
}

static void write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("write");
		p += r;
		n -= (size_t)r;
	}
}

static void put_str(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (p[i] >= 0x21 && p[i] < 0x7f) ? (char)p[i] : '?';
	out[i] = '\0';
}

/* The address block of a PROXY v2 header for family af (source and
 * destination address, then their ports) into "A:P" / "[A]:P"; returns
 * its length. */
static size_t proxy_addrs(int af, const uint8_t *body, size_t len, char *src, char *dst, size_t cap)
{
	size_t alen = af == AF_INET ? 4 : 16;
	const uint8_t *port = body + 2 * alen;
	const char *open = af == AF_INET ? "" : "[", *close = af == AF_INET ? "" : "]";
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	if (len < 2 * alen + 4)
		bad(af == AF_INET ? "PROXY invalid: short IPv4 block" : "PROXY invalid: short IPv6 block");
	(void)inet_ntop(af, body, a, sizeof(a));
	(void)inet_ntop(af, body + alen, b, sizeof(b));
	(void)snprintf(src, cap, "%s%s%s:%u", open, a, close, (unsigned)(port[0] << 8 | port[1]));
	(void)snprintf(dst, cap, "%s%s%s:%u", open, b, close, (unsigned)(port[2] << 8 | port[3]));
	return 2 * alen + 4;
}

/* The next TLV (type, 16-bit length, value) of p[*pos..end): 1 and its
 * type and value, 0 at the end; exits on a truncated or overrunning one. */
static int tlv_next(const uint8_t *p, size_t *pos, size_t end, const char *what, unsigned *type,
		    const uint8_t **val, size_t *vlen)
{
	size_t at = *pos, n;

	if (at >= end)
		return 0;
	if (end - at < 3) {
		(void)fprintf(stderr, "tt-backend: PROXY invalid: truncated %s\n", what);
		exit(1);
	}
	n = (size_t)p[at + 1] << 8 | p[at + 2];
	if (n > end - at - 3) {
		(void)fprintf(stderr, "tt-backend: PROXY invalid: %s overruns\n", what);
		exit(1);
	}
	*type = p[at];
	*val = p + at + 3;
	*vlen = n;
	*pos = at + 3 + n;
	return 1;
}

/* Read and check a PROXY v2 header; print the PROXY line. */
static void proxy_v2_read(int fd)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	uint8_t hdr[16], body[PP2_MAX_BODY];
	char src[64] = "-", dst[64] = "-", version[80] = "-", cipher[80] = "-", cn[400] = "-";
	char alpn[80] = "";
	const char *fam = "?";
	size_t len, pos = 0, addrlen = 0;
	unsigned client = 0, verify = 0, type, st;
	const uint8_t *val, *sv;
	size_t vlen, sl;
	int have_ssl = 0;

	read_full(fd, hdr, sizeof(hdr));
	if (memcmp(hdr, sig, sizeof(sig)) != 0)
		bad("PROXY invalid: bad signature");
	if (hdr[12] != 0x21)
		bad("PROXY invalid: not version 2 / PROXY command");
	len = ((size_t)hdr[14] << 8) | hdr[15];
	if (len > sizeof(body))
		bad("PROXY invalid: header too long");
	read_full(fd, body, len);

	if (hdr[13] == 0x11) {
		fam = "tcp4";
		addrlen = proxy_addrs(AF_INET, body, len, src, dst, sizeof(src));
	} else if (hdr[13] == 0x21) {
		fam = "tcp6";
		addrlen = proxy_addrs(AF_INET6, body, len, src, dst, sizeof(src));
	} else if (hdr[13] == 0x00) {
		fam = "unspec";
	} else {
		bad("PROXY invalid: unexpected family/transport");
	}

	/* TLVs: type, 16-bit length, value; every length checked. */
	pos = addrlen;
	while (tlv_next(body, &pos, len, "TLV", &type, &val, &vlen)) {
		size_t sp = 5;

		if (type == 0x01) { /* PP2_TYPE_ALPN */
			if (alpn[0] || vlen == 0)
				bad("PROXY invalid: repeated or empty PP2_TYPE_ALPN");
			put_str(alpn, sizeof(alpn), val, vlen);
		}
		if (type != 0x20)
			continue;
		if (vlen < 5)
			bad("PROXY invalid: short PP2_TYPE_SSL");
		have_ssl = 1;
		client = val[0];
		verify = (unsigned)val[1] << 24 | (unsigned)val[2] << 16 | (unsigned)val[3] << 8 | val[4];
		while (tlv_next(val, &sp, vlen, "SSL sub-TLV", &st, &sv, &sl)) {
			if (st == 0x21)
				put_str(version, sizeof(version), sv, sl);
			else if (st == 0x22)
				put_str(cn, sizeof(cn), sv, sl);
			else if (st == 0x23)
				put_str(cipher, sizeof(cipher), sv, sl);
		}
	}
	if (!have_ssl)
		bad("PROXY invalid: no PP2_TYPE_SSL TLV");
	(void)fprintf(stderr, "PROXY fam=%s src=%s dst=%s client=0x%02x verify=%u version=%s cipher=%s cn=%s\n",
		      fam, src, dst, client, verify, version, cipher, cn);
	if (alpn[0])
		(void)fprintf(stderr, "PROXY-ALPN=%s\n", alpn);
}

/* Read what fd has (up to cap bytes into buf) and copy it to stdout: the
 * count, 0 at EOF; dies on an error. */
static ssize_t read_to_stdout(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n;

	do
		n = read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die("read");
	if (n > 0 && fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
		die("stdout");
	return n;
}

static void serve_one(int c, int proxy, int at_eof)
{
	static uint8_t buf[BUF];
	uint8_t *all = NULL;
	size_t total = 0;

	if (proxy)
		proxy_v2_read(c);
	if (at_eof) {
		all = malloc(AT_EOF_MAX);
		if (!all)
			die("malloc");
	}
	for (;;) {
		struct pollfd pfd = { .fd = c, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, (int)timeout_sec * 1000) <= 0)
			bad("timeout waiting for data");
		n = read_to_stdout(c, buf, sizeof(buf));
		if (n == 0)
			break;
		if (at_eof) {
			if ((size_t)n > AT_EOF_MAX - total)
				bad("--at-eof: more than 16 MiB");
			memcpy(all + total, buf, (size_t)n);
		} else {
			write_full(c, buf, (size_t)n);
		}
		total += (size_t)n;
	}
	if (at_eof)
		write_full(c, all, total);
	if (shutdown(c, SHUT_WR) < 0)
		die("shutdown");
	/* Wait for the other side to close, so nothing is reset early. */
	{
		struct pollfd pfd = { .fd = c, .events = POLLIN };

		(void)poll(&pfd, 1, (int)timeout_sec * 1000);
	}
	(void)fflush(stdout);
	(void)fprintf(stderr, "BACKEND bytes=%zu\n", total);
	free(all);
	(void)close(c);
}

/* source: stdin to the connection, then report how the other side ended. */
static int serve_source(int c, int proxy)
{
	static uint8_t buf[BUF];
	size_t sent = 0;
	struct pollfd pfd = { .fd = c, .events = POLLIN };
	ssize_t n;

	if (proxy)
		proxy_v2_read(c);
	for (;;) {
		size_t off = 0;

		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("stdin");
		if (n == 0)
			break;
		while (off < (size_t)n) {
			ssize_t w = send(c, buf + off, (size_t)n - off, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				(void)fprintf(stderr, "SOURCE error sent=%zu: %s\n", sent, strerror(errno));
				return 1;
			}
			off += (size_t)w;
			sent += (size_t)w;
		}
	}
	if (shutdown(c, SHUT_WR) < 0)
		die("shutdown");
	(void)fprintf(stderr, "SOURCE sent=%zu\n", sent);
	for (;;) {
		if (poll(&pfd, 1, (int)timeout_sec * 1000) <= 0)
			bad("timeout waiting for the other side to end");
		n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET) {
			(void)fputs("SOURCE end=reset\n", stderr);
			break;
		}
		if (n < 0)
			die("read");
		if (n == 0) {
			(void)fputs("SOURCE end=eof\n", stderr);
			break;
		}
	}
	(void)close(c);
	return 0;
}

static int listen_on(const char *listen_addr, const char *unix_path, const char *port_file)
{
	int fd, one = 1;

	if (unix_path) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		if (strlen(unix_path) >= sizeof(un.sun_path))
			bad("unix path too long");
		strcpy(un.sun_path, unix_path);
		(void)unlink(unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(fd, 8) < 0)
			die("listen unix");
		return fd;
	}
	{
		struct sockaddr_in in = tkt_addr4(listen_addr);

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(fd, 8) < 0)
			die("listen");
	}
	if (port_file)
		tkt_port_file_write(port_file, fd);
	return fd;
}

static int connect_to(const char *addr)
{
	struct sockaddr_in in;
	int fd;

	if (strncmp(addr, "unix:", 5) == 0) {
		fd = tkt_unix_connect(addr + 5, SOCK_STREAM);
		if (fd < 0)
			die("connect");
		return fd;
	}
	in = tkt_addr4(addr);
	return tkt_tcp_connect4(&in);
}

static int do_send(const char *addr)
{
	static uint8_t buf[BUF];
	int s = connect_to(addr), in_open = 1;
	size_t sent = 0, received = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = s, .events = POLLIN },
				       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, (int)timeout_sec * 1000) <= 0)
			bad("timeout");
		if (p[1].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0)
				die("stdin");
			if (n == 0) {
				in_open = 0;
				if (shutdown(s, SHUT_WR) < 0)
					die("shutdown");
			} else {
				write_full(s, buf, (size_t)n);
				sent += (size_t)n;
			}
		}
		if (p[0].revents) {
			n = read_to_stdout(s, buf, sizeof(buf));
			if (n == 0)
				break;
			received += (size_t)n;
		}
	}
	(void)fflush(stdout);
	(void)fprintf(stderr, "SEND sent=%zu received=%zu stdin=%s\n", sent, received,
		      in_open ? "open" : "eof");
	(void)close(s);
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen_addr = "127.0.0.1:0", *unix_path = NULL, *port_file = NULL, *connect = NULL;
	unsigned count = 1;
	int proxy = 0, at_eof = 0, lfd;

	tkt_prog_set("tt-backend", 1);

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--proxy-v2") == 0)
			proxy = 1;
		else if (strcmp(a, "--at-eof") == 0)
			at_eof = 1;
		else if (!v)
			usage();
		else if (strcmp(a, "--listen") == 0)
			listen_addr = v, i++;
		else if (strcmp(a, "--unix") == 0)
			unix_path = v, i++;
		else if (strcmp(a, "--port-file") == 0)
			port_file = v, i++;
		else if (strcmp(a, "--count") == 0)
			count = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--timeout") == 0)
			timeout_sec = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--connect") == 0)
			connect = v, i++;
		else
			usage();
	}
	if (strcmp(argv[1], "send") == 0) {
		if (!connect)
			usage();
		return do_send(connect);
	}
	if (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "source") != 0)
		usage();
	lfd = listen_on(listen_addr, unix_path, port_file);
	if (strcmp(argv[1], "source") == 0) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int c, rc;

		if (poll(&pfd, 1, (int)timeout_sec * 1000) <= 0)
			bad("timeout waiting for a connection");
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			die("accept");
		rc = serve_source(c, proxy);
		(void)close(lfd);
		if (unix_path)
			(void)unlink(unix_path);
		return rc;
	}
	for (unsigned i = 0; i < count; i++) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int c;

		if (poll(&pfd, 1, (int)timeout_sec * 1000) <= 0)
			bad("timeout waiting for a connection");
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			die("accept");
		serve_one(c, proxy, at_eof);
	}
	(void)close(lfd);
	if (unix_path)
		(void)unlink(unix_path);
	return 0;
}
