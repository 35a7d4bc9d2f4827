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
 *   wait:FILE   wait until FILE exists (at most 30 s)
 * Exits 0 when every step ran (a refused start is a result, not a
 * failure). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/lib/tkt.h"
#include "tlskey/starttls.h"

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
			char *colon = strchr(s + 5, ':');

			if (!colon)
				tkt_die("drop:UID:GID");
			*colon = '\0';
			if (tkt_parse_ulong(s + 5, 10, 1u << 31, &u) < 0 ||
			    tkt_parse_ulong(colon + 1, 10, 1u << 31, &g) < 0)
				tkt_die("drop:UID:GID");
			if (setgroups(0, NULL) < 0 || setresgid((gid_t)g, (gid_t)g, (gid_t)g) < 0 ||
			    setresuid((uid_t)u, (uid_t)u, (uid_t)u) < 0)
				tkt_dief("drop to %lu:%lu", u, g);
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
