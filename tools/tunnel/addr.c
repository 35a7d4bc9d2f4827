/* Socket addresses as the operator writes them: "HOST:PORT", "[V6]:PORT",
 * "unix:/path".  Names are resolved once, when the configuration is read.
 * XXX: a backend or --connect host whose address changes needs a restart. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/util.h"
#include "tools/tunnel/tunnel.h"

#define HOST_MAX 255u

static int split_host_port(const char *text, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = text;
	size_t hl;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = text + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - text);
		/* A bare IPv6 literal needs brackets: "::1:80" is ambiguous. */
		if (memchr(text, ':', hl))
			return -EINVAL;
	}
	if (hl >= hostlen)
		return -ENAMETOOLONG;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
		return -EINVAL;
	strcpy(port, colon + 1);
	return 0;
}

static int parse_port(const char *s, unsigned *ret)
{
	unsigned long v;
	int r = tk_parse_ulong(s, 0, 65535, &v);

	if (r == 0)
		*ret = (unsigned)v;
	return r;
}

int tunnel_addr_parse(const char *text, int passive, int allow_unix, struct tunnel_addr *ret_addr)
{
	struct tunnel_addr a;
	struct addrinfo hints, *res = NULL;
	char host[HOST_MAX + 1], port[8];
	unsigned portnum;
	int r;

	memset(&a, 0, sizeof(a));
	if (strncmp(text, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a.ss;
		const char *path = text + 5;
		size_t n = strlen(path);

		if (!allow_unix || path[0] != '/')
			return -EINVAL;
		if (n >= sizeof(un->sun_path) || n + 5 >= sizeof(a.text))
			return -ENAMETOOLONG;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, n + 1);
		a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		(void)snprintf(a.text, sizeof(a.text), "unix:%s", path);
		*ret_addr = a;
		return 0;
	}
	r = split_host_port(text, host, sizeof(host), port, sizeof(port));
	if (r < 0)
		return r;
	r = parse_port(port, &portnum);
	if (r < 0)
		return r;
	if (!passive && (host[0] == '\0' || strcmp(host, "*") == 0))
		return -EINVAL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (passive && (host[0] == '\0' || strcmp(host, "*") == 0)) {
		/* The IPv6 wildcard; main.c clears IPV6_V6ONLY so IPv4 works too. */
		hints.ai_family = AF_INET6;
		r = getaddrinfo(NULL, port, &hints, &res);
	} else {
		hints.ai_family = AF_UNSPEC;
		r = getaddrinfo(host, port, &hints, &res);
	}
	if (r != 0 || !res)
		return -EADDRNOTAVAIL;
	if (res->ai_addrlen > sizeof(a.ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(&a.ss, res->ai_addr, res->ai_addrlen);
	a.len = res->ai_addrlen;
	freeaddrinfo(res);
	tunnel_addr_format((struct sockaddr *)&a.ss, a.len, a.text, sizeof(a.text));
	*ret_addr = a;
	return 0;
}

int tunnel_addr_host_port(const struct sockaddr *sa, socklen_t len, char *host, size_t hostlen,
			  unsigned *ret_port)
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (!inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)hostlen))
			return -ENOSPC;
		*ret_port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const char *ok;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			ok = inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, host, (socklen_t)hostlen);
		else
			ok = inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)hostlen);
		if (!ok)
			return -ENOSPC;
		*ret_port = ntohs(in6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void tunnel_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (buflen == 0)
		return;
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = len > offsetof(struct sockaddr_un, sun_path)
				   ? (size_t)len - offsetof(struct sockaddr_un, sun_path)
				   : 0;

		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		/* Unnamed (accepted) UNIX sockets have no path. */
		if (n == 0 || un->sun_path[0] == '\0')
			(void)snprintf(buf, buflen, "unix");
		else
			(void)snprintf(buf, buflen, "unix:%.*s", (int)strnlen(un->sun_path, n),
				       un->sun_path);
		return;
	}
	if (tunnel_addr_host_port(sa, len, host, sizeof(host), &port) < 0) {
		(void)snprintf(buf, buflen, "?");
		return;
	}
	if (strchr(host, ':'))
		(void)snprintf(buf, buflen, "[%s]:%u", host, port);
	else
		(void)snprintf(buf, buflen, "%s:%u", host, port);
}
