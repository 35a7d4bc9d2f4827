/* tkt: sockets of the test programs (loopback and UNIX only). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/file.h"
#include "test/lib/tkt.h"

int tkt_unix_connect(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		(void)close(s);
		errno = e;
		return -1;
	}
	return s;
}

struct sockaddr_in tkt_addr4(const char *spec)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(spec, ':');
	unsigned long port;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		tkt_dief("bad address %s", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    tkt_parse_ulong(colon + 1, 10, 65535, &port) < 0)
		tkt_dief("bad address %s", spec);
	a.sin_port = htons((uint16_t)port);
	return a;
}

int tkt_tcp_connect4(const struct sockaddr_in *a)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0)
		tkt_die("connect");
	return s;
}

int tkt_listener4(int rcvbuf, int backlog, struct sockaddr_in *ret_addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		tkt_die("socket");
	if (rcvbuf > 0 && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		tkt_die("SO_RCVBUF");
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, backlog) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0)
		tkt_die("listen");
	*ret_addr = a;
	return s;
}

void tkt_port_file_write(const char *path, int lsock)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char text[16], err[512] = "";
	unsigned port;
	int n;

	if (getsockname(lsock, (struct sockaddr *)&ss, &sl) < 0)
		tkt_die("getsockname");
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	n = snprintf(text, sizeof(text), "%u\n", port);
	if (tk_file_replace(path, text, (size_t)n, err, sizeof(err)) < 0)
		tkt_dief("--port-file: %s", err);
}

int tkt_nonblock_set(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}
