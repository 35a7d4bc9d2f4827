/* fork() in a threaded program while other threads start sessions (a
 * review of the client library, 2026-12-03): the pool of kept control
 * connections had no fork handlers for its lock, so a child forked while
 * another thread held it inherited it locked, and its first start waited
 * forever (3 of 3000 children before the fix, 0 after).  Three threads
 * loop starts at a socket path where nothing listens (each takes and
 * gives back the pool's lock); the main thread forks FORKS children, each
 * of which makes one start under a 2 s alarm.  Exit 0 if none hung, 1
 * otherwise (with the count).  Statistical: it catches the bug most of
 * the time, never fails without it. */
#include "config.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlskey/starttls.h"

static void *loop_starts(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		/* Fails (nothing listens): the fd is the library's now. */
		(void)starttls_client(fd, IPPROTO_TCP, "alice@example.test", 0, NULL, NULL, 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int forks = argc > 1 ? atoi(argv[1]) : 2000, hung = 0, odd = 0;
	pthread_t t;

#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizer's own allocator lock can be held by another thread at
	 * fork(): a child then hangs in its first malloc (gdb: FutexWait in
	 * SizeClassAllocator64::GetFromAllocator under calloc, GCC 12's
	 * libasan), whatever the library does. */
	(void)argc;
	(void)argv;
	printf("fork-pool: skipped in a sanitizer build (its allocator is not fork-safe with threads)\n");
	return 77;
#endif
	if (setenv("TLSKEYD_SOCKET", "/nonexistent/tlskeyd-fork-pool.sock", 1) < 0)
		return 99;
	for (int k = 0; k < 3; k++)
		if (pthread_create(&t, NULL, loop_starts, NULL) != 0)
			return 99;
	for (int i = 0; i < forks; i++) {
		int st;
		pid_t p = fork();

		if (p < 0)
			return 99;
		if (p == 0) {
			int fd;

			(void)signal(SIGALRM, SIG_DFL);
			(void)alarm(2); /* a start that fails at once takes microseconds */
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			(void)starttls_client(fd, IPPROTO_TCP, "alice@example.test", 0, NULL, NULL, 0);
			_exit(0);
		}
		if (waitpid(p, &st, 0) != p)
			return 99;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
			hung++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			odd++;
	}
	printf("fork-pool: %d of %d children hung in their first start, %d ended otherwise\n", hung, forks, odd);
	return hung || odd ? 1 : 0;
}
