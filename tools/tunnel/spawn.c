/* --exec: inetd-style children.  The protected descriptor itself becomes
 * the child's stdin and stdout, so the child talks plaintext and tlskeyd
 * does the TLS; the peer identity travels in the environment.  The
 * tunnel does not see the bytes, so the log line has no byte counts. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/tunnel/tunnel.h"

/* In the child, between fork() and exec(): only async-signal-safe calls
 * matter in a multi-threaded parent, but tlskey-tunnel is single-threaded,
 * so setenv() is safe here. */
static void child_exec(const struct tunnel_conf *conf, int pfd, const char *peer, const char *local,
		       const struct sockaddr *remote, socklen_t remote_len)
{
	char host[64], port[8];
	unsigned portnum;
	sigset_t none;

	/* main.c blocks these for its signalfd and ignores SIGPIPE; both
	 * would be inherited across exec(). */
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);

	if (dup2(pfd, STDIN_FILENO) < 0 || dup2(pfd, STDOUT_FILENO) < 0)
		goto fail;
	/* pfd itself is O_CLOEXEC and vanishes at exec(); 0 and 1 are not. */
	if (setenv("TLSKEY_PEER", peer, 1) < 0 || setenv("TLSKEY_LOCAL", local, 1) < 0)
		goto fail;
	if (tunnel_addr_host_port(remote, remote_len, host, sizeof(host), &portnum) == 0) {
		(void)snprintf(port, sizeof(port), "%u", portnum);
		if (setenv("REMOTE_ADDR", host, 1) < 0 || setenv("REMOTE_PORT", port, 1) < 0)
			goto fail;
	}
	execv(conf->exec_argv[0], conf->exec_argv);
fail:
	(void)fprintf(stderr, "tlskey-tunnel: exec %s: %s\n", conf->exec_argv[0], strerror(errno));
	_exit(127);
}

int tunnel_spawn(const struct tunnel_conf *conf, int pfd, const char *peer, const char *local,
		 const struct sockaddr *remote, socklen_t remote_len, pid_t *ret_pid)
{
	pid_t pid;

	/* Nothing buffered may be written twice by the child. */
	(void)fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(conf, pfd, peer, local, remote, remote_len);
	*ret_pid = pid;
	return 0;
}
