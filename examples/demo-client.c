/* demo-client: a plaintext TCP client that gets TLS from tlskeyd.
 * Usage: demo-client PORT MYNAME SERVERNAME
 * Connects to 127.0.0.1:PORT, starts TLS in the client role with the key of
 * MYNAME, requires the server to prove SERVERNAME, sends one line and
 * prints the answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tlskey/starttls.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char peer[256], buf[1024], msg[256];
	int fd, tls, len;
	ssize_t n;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PORT MYNAME SERVERNAME\n", argv[0]);
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("client: connect");
		return 1;
	}
	tls = starttls_client(fd, IPPROTO_TCP, argv[2], 0, argv[3], peer, sizeof(peer));
	if (tls < 0) {
		fprintf(stderr, "client: starttls_client: %s (%s)\n", strerror(errno), tlskey_last_error());
		return 1;
	}
	printf("client: TLS up, server authenticated as %s\n", peer);
	len = snprintf(msg, sizeof(msg), "greetings from %s\n", argv[2]);
	if (write(tls, msg, (size_t)len) != len || shutdown(tls, SHUT_WR) < 0) {
		perror("client: write");
		return 1;
	}
	while ((n = read(tls, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		printf("client: received: %s", buf);
	}
	if (n < 0) {
		perror("client: read");
		return 1;
	}
	close(tls);
	return 0;
}
