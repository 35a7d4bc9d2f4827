#define _GNU_SOURCE
/* demo-server: a plaintext TCP server that gets TLS from tlskeyd.
 * Usage: demo-server PORT MYNAME
 * Accepts one connection on 127.0.0.1:PORT, starts TLS in the server role
 * with the key of MYNAME, prints who the client proved to be, and answers
 * one line. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tlskey/starttls.h>

static int check_sni(char *name)
{
	printf("server: client asked for \"%s\"\n", name);
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char peer[256], line[512], reply[1024];
	int one = 1, lfd, fd, tls, n, len;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT MYNAME\n", argv[0]);
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		perror("server: listen");
		return 1;
	}
	printf("server: listening on 127.0.0.1:%s as %s\n", argv[1], argv[2]);
	fflush(stdout);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (fd < 0) {
		perror("server: accept");
		return 1;
	}
	/* fd is consumed by the call, whatever happens. */
	tls = starttls_server(fd, IPPROTO_TCP, argv[2], 0, check_sni, peer, sizeof(peer));
	if (tls < 0) {
		fprintf(stderr, "server: starttls_server: %s (%s)\n", strerror(errno), tlskey_last_error());
		return 1;
	}
	printf("server: TLS up, client authenticated as %s\n", peer);
	fflush(stdout);
	n = (int)read(tls, line, sizeof(line) - 1);
	if (n <= 0) {
		fprintf(stderr, "server: no data from client\n");
		return 1;
	}
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	printf("server: received \"%s\"\n", line);
	len = snprintf(reply, sizeof(reply), "hello %s, this is %s; you said \"%s\"\n", peer, argv[2],
		       line);
	if (write(tls, reply, (size_t)len) != len) {
		perror("server: write");
		return 1;
	}
	close(tls);
	return 0;
}
