/* At start: ask tlskeyd whether this tunnel's identity exists and the ACL
 * lets this process use it in its role (a CHECK request, doc/protocol.md),
 * so that a mistake is reported once, at start, instead of on every
 * connection a client makes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "common/daemonpeer.h"
#include "common/util.h"
#include "common/wire.h"
#include "tools/tunnel/tunnel.h"

/* Same default as libtlskey (lib/starttls.c). */
#define PRECHECK_DEFAULT_SOCKET "/run/tlskeyd/tlskeyd.sock"
/* A daemon that does not answer within this is reported, not waited on. */
#define PRECHECK_TIMEOUT_S 5

int tunnel_precheck(const struct tunnel_conf *conf)
{
	const struct timeval tv = { .tv_sec = PRECHECK_TIMEOUT_S };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tk_msg req = { .type = TK_MSG_CHECK }, *ans = NULL;
	const char *path = secure_getenv("TLSKEYD_SOCKET");
	int fd = -1, passed = -1, r;

	if (!path || !*path)
		path = PRECHECK_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return 0; /* the library reports it on the first connection */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	req.role = conf->mode == TUNNEL_MODE_SERVER ? TK_ROLE_SERVER : TK_ROLE_CLIENT;
	req.flags = (uint32_t)conf->flags;
	req.present = (1u << TK_TAG_ROLE) | (1u << TK_TAG_FLAGS);
	if (tk_msg_set_str(&req, TK_TAG_MYNAME, conf->myname) < 0)
		return 0;
	ans = calloc(1, sizeof(*ans));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!ans || fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* Not fatal: at boot the tunnel may start before the daemon. */
		tunnel_log("warning: cannot ask tlskeyd at %s about %s now: %s", path, conf->myname,
			   ans ? strerror(errno) : "out of memory");
		r = 0;
		goto out;
	}
	{
		char why[512];

		if (tk_daemon_peer_check(fd, path, why, sizeof(why)) < 0) {
			/* The library refuses it too, at every connection. */
			tunnel_log("warning: %s", why);
			r = 0;
			goto out;
		}
	}
	r = tk_msg_send(fd, &req, -1);
	if (r == 0)
		r = tk_msg_recv(fd, ans, &passed);
	(void)tk_close(passed); /* a RESULT to CHECK carries none */
	if (r == 0 && ans->type != TK_MSG_RESULT)
		r = -EBADMSG;
	if (r < 0) {
		tunnel_log("warning: no answer from tlskeyd at %s about %s: %s", path, conf->myname,
			   r == -EAGAIN ? "timed out" : strerror(-r));
		r = 0;
		goto out;
	}
	if (ans->err == ENOKEY || ans->err == EACCES || ans->err == EINVAL) {
		tunnel_log("tlskeyd refuses %s as %s for this process: %s (errno=%s)", conf->myname,
			   req.role == TK_ROLE_SERVER ? "server" : "client",
			   ans->message[0] ? ans->message : strerror((int)ans->err),
			   ans->err == ENOKEY ? "ENOKEY" : ans->err == EACCES ? "EACCES" : "EINVAL");
		r = -(int)ans->err;
		goto out;
	}
	/* EBADMSG: a daemon from before CHECK; anything else: judged per
	 * connection as before. */
	r = 0;
out:
	(void)tk_close(fd);
	free(ans);
	return r;
}
