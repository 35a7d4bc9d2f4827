/* journal-sink: stand in for journald's native socket in a test.
 * Usage: journal-sink PATH SECONDS
 * Binds a datagram socket at PATH, prints every record it receives (the
 * native protocol: KEY=value lines) followed by a "--" line, and exits
 * after SECONDS without traffic.  Only for test machines without
 * journald (the test checks that PATH does not exist). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[256 * 1024];
	int fd, secs;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: %s PATH SECONDS\n", argv[0]);
		return 2;
	}
	secs = atoi(argv[2]);
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(argv[1], 0666) < 0) {
		perror("journal-sink: bind");
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r = poll(&p, 1, secs * 1000);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		fwrite(buf, 1, (size_t)n, stdout);
		printf("\n--\n");
		fflush(stdout);
	}
	unlink(argv[1]);
	return 0;
}
