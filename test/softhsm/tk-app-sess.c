/* tk-app: the calls about an established session (tlskey_query_session(),
 * tlskey_export_keying_material(), tlskey_control()), and the "sessctl"
 * mode that aims them at descriptors tlskeyd never made.  See tk-app.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tlskey/starttls.h>

#include "test/lib/tkt.h"
#include "test/softhsm/tk-app.h"

struct tkapp_sess tkapp_sess = { .chain_cap = 256 * 1024, .ids_cap = 4096, .export_len = 32,
				 .ctl_as_uid = -1, .ctl_as_gid = -1 };

static void print_error(const char *what, int e)
{
	(void)fprintf(stderr, "%s-ERROR errno=%s %s: %s\n", what, tkt_errno_name(e), strerror(e),
		      tlskey_last_error());
}

static int ctl_op(const char *name)
{
	if (!strcmp(name, "key-update"))
		return TLSKEY_CTL_KEY_UPDATE;
	if (!strcmp(name, "close-notify"))
		return TLSKEY_CTL_CLOSE_NOTIFY;
	if (!strcmp(name, "bad"))
		return 99;
	usage("unknown --ctl %s (key-update, close-notify, bad)", name);
}

static void print_full(const struct tlskey_session_info *i)
{
	(void)fprintf(stderr,
		      "QFULL state=%s role=%s auth=%d resumed=%d version=%s cipher=%s sni=%s alpn=%s "
		      "group=%s sign=%s csign=%s local=%s peer=%s mapped=%s acl=%s\n",
		      state_name(i->state), i->role == TLSKEY_ROLE_SERVER ? "server" : "client",
		      i->client_auth, i->resumed, i->version, i->cipher_suite, i->sni, i->alpn, i->group,
		      i->sign_algo, i->client_sign_algo, i->local, i->peer, i->mapped_user, i->acl_rule);
	(void)fprintf(stderr, "QCHAIN len=%zu count=%u ids_len=%zu ids_count=%u\n", i->peer_chain_len,
		      i->peer_chain_count, i->peer_ids_len, i->peer_ids_count);
	for (size_t off = 0; i->peer_ids && off < i->peer_ids_len; off += strlen(i->peer_ids + off) + 1)
		(void)fprintf(stderr, "QID %s\n", i->peer_ids + off);
}

/* tlskey_query_session() with the buffers of --chain-cap / --ids-cap.
 * full: print everything, else only the byte counts.  0 or -1. */
static int query_full(int pfd, int full)
{
	struct tlskey_session_info i;
	int r, e;

	memset(&i, 0, sizeof(i));
	i.size = tkapp_sess.size ? tkapp_sess.size : sizeof(i);
	i.peer_chain_cap = tkapp_sess.chain_cap;
	i.peer_ids_cap = tkapp_sess.ids_cap;
	i.peer_chain = i.peer_chain_cap ? malloc(i.peer_chain_cap) : NULL;
	i.peer_ids = i.peer_ids_cap ? malloc(i.peer_ids_cap) : NULL;
	if ((i.peer_chain_cap && !i.peer_chain) || (i.peer_ids_cap && !i.peer_ids))
		fail("malloc");
	r = tlskey_query_session(pfd, &i);
	e = errno;
	if (r < 0) {
		print_error("QFULL", e);
		(void)fprintf(stderr, "QCHAIN len=%zu count=%u ids_len=%zu\n", i.peer_chain_len,
			      i.peer_chain_count, i.peer_ids_len);
	} else if (full) {
		print_full(&i);
	} else {
		(void)fprintf(stderr, "QBYTES in=%llu out=%llu\n", i.bytes_in, i.bytes_out);
	}
	if (r == 0 && full && tkapp_sess.chain_out) {
		FILE *f = fopen(tkapp_sess.chain_out, "we");

		if (!f || fwrite(i.peer_chain, 1, i.peer_chain_len, f) != i.peer_chain_len || fclose(f))
			fail(tkapp_sess.chain_out);
	}
	free(i.peer_chain);
	free(i.peer_ids);
	return r;
}

static int export_km(int pfd)
{
	unsigned char out[TLSKEY_EXPORT_OUT_MAX + 16];
	const char *ctx = tkapp_sess.export_context;
	size_t len = tkapp_sess.export_len;

	if (tlskey_export_keying_material(pfd, tkapp_sess.export_label, (const unsigned char *)ctx,
					  ctx ? strlen(ctx) : 0, out, len) < 0) {
		print_error("EXPORT", errno);
		return -1;
	}
	(void)fputs("EXPORT=", stderr);
	for (size_t k = 0; k < len && k < sizeof(out); k++)
		(void)fprintf(stderr, "%02X", out[k]);
	(void)fputc('\n', stderr);
	return 0;
}

/* --ctl OP[,OP...]: one call each, in order; -1 if any failed.  With
 * --ctl-as, a child that dropped to that uid and gid makes them with the
 * descriptor it inherited (one passed on to another user). */
static int control(int pfd)
{
	char ops[256], *save = NULL;
	int rc = 0;

	if (tkapp_sess.ctl_as_uid >= 0) {
		int st = 0;
		pid_t p;

		(void)fflush(stderr);
		p = fork();
		if (p < 0)
			fail("fork");
		if (p == 0) {
			gid_t g = (gid_t)tkapp_sess.ctl_as_gid;
			uid_t u = (uid_t)tkapp_sess.ctl_as_uid;

			if (setgroups(0, NULL) < 0 || setresgid(g, g, g) < 0 || setresuid(u, u, u) < 0)
				fail("--ctl-as: dropping privileges");
			tkapp_sess.ctl_as_uid = -1;
			_exit(control(pfd) < 0 ? 1 : 0);
		}
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st))
			fail("--ctl-as: the child");
		return WEXITSTATUS(st) ? -1 : 0;
	}

	(void)snprintf(ops, sizeof(ops), "%s", tkapp_sess.ctl);
	for (char *op = strtok_r(ops, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
		if (tlskey_control(pfd, ctl_op(op)) < 0) {
			print_error("CTL", errno);
			rc = -1;
			continue;
		}
		(void)fprintf(stderr, "CTL %s ok\n", op);
	}
	return rc;
}

int sess_after_start(int pfd)
{
	int bad = 0;

	if (tkapp_sess.query_full)
		bad |= query_full(pfd, 1) < 0;
	if (tkapp_sess.export_label)
		bad |= export_km(pfd) < 0;
	if (tkapp_sess.ctl && !tkapp_sess.ctl_after && !tkapp_sess.ctl_down)
		bad |= control(pfd) < 0;
	return bad && !tkapp_sess.keep_going ? EXIT_STARTTLS : 0;
}

void sess_up_bytes(int pfd, unsigned long long up)
{
	static int done;

	if (done || !tkapp_sess.ctl || !tkapp_sess.ctl_after || up < tkapp_sess.ctl_after)
		return;
	done = 1;
	(void)control(pfd);
}

void sess_down_bytes(int pfd, unsigned long long down)
{
	static int done, ctl_done;

	if (!ctl_done && tkapp_sess.ctl && tkapp_sess.ctl_down && down >= tkapp_sess.ctl_down) {
		ctl_done = 1;
		(void)control(pfd);
	}
	if (done || !tkapp_sess.bytes_after || down < tkapp_sess.bytes_after)
		return;
	done = 1;
	(void)query_full(pfd, 0);
}

int run_sessctl(const struct opts *o)
{
	const char *kind = o->kind ? o->kind : "plain";
	int fds[2] = { -1, -1 }, fd, r;

	if (!strcmp(kind, "plain")) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
			fail("socketpair");
		fd = fds[0];
	} else if (!strcmp(kind, "pipe")) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			fail("pipe");
		fd = fds[0];
	} else if (!strcmp(kind, "closed")) {
		fd = 1000;
	} else {
		usage("unknown --kind %s", kind);
	}
	tkapp_sess.keep_going = 1;
	r = tkapp_sess.query_full ? query_full(fd, 1)
	    : tkapp_sess.export_label ? export_km(fd)
	    : tkapp_sess.ctl ? control(fd)
			     : (usage("sessctl needs --query-full, --export or --ctl"), -1);
	if (fd != 1000)
		(void)close(fd);
	if (fds[1] >= 0)
		(void)close(fds[1]);
	return r == 0 ? 0 : EXIT_STARTTLS;
}
