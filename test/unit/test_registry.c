/* Unit tests for the session registry (keyd/registry.c): a session is
 * found only through the very socket it was registered under. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyd/registry.h"
#include "test/unit/check-main.h"

static struct tk_msg *query(int fd, int *ret_r)
{
	struct tk_msg *m = calloc(1, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	*ret_r = registry_query(fd, m);
	return m;
}

static struct session_info *add(int fd, const char *peer)
{
	struct session_info *i = registry_info_new(NULL, 0, NULL, 0);

	ck_assert_ptr_nonnull(i);
	i->state = TK_STATE_SECURE;
	(void)snprintf(i->peer, sizeof(i->peer), "%s", peer);
	ck_assert_int_eq(registry_add(i, fd), 0);
	return i;
}

START_TEST(found_by_own_socket)
{
	int sv[2], r;
	struct session_info *i;
	struct tk_msg *m;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	i = add(sv[1], "alice@example.test");
	m = query(sv[1], &r);
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(m->peername, "alice@example.test");
	free(m);
	/* The daemon's end is another socket: not the credential. */
	m = query(sv[0], &r);
	ck_assert_int_eq(r, -ENOENT);
	free(m);
	registry_remove(i);
	m = query(sv[1], &r);
	ck_assert_int_eq(r, -ENOENT);
	free(m);
	(void)close(sv[0]);
	(void)close(sv[1]);
}
END_TEST

/* The inode counter of sockfs is 32 bits: after a wrap another socket can
 * have the inode of a live session's socket.  Simulated here by giving the
 * registered entry the inode of the attacker's socket: the cookie must
 * still tell them apart. */
START_TEST(inode_wrap)
{
	int victim[2], attacker[2], r;
	struct session_info *i;
	struct tk_msg *m;
	struct stat st;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, victim), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, attacker), 0);
	i = add(victim[1], "victim@example.test");
	ck_assert_int_eq(fstat(attacker[1], &st), 0);
	ck_assert(i->cookie != 0); /* then (dev, inode) are not even recorded */
	i->dev = st.st_dev;
	i->ino = st.st_ino; /* what a wrapped counter hands out */
	m = query(attacker[1], &r);
	ck_assert_msg(r == -ENOENT, "a socket with a recycled inode found another session (peer %s)",
		      r == 0 ? m->peername : "?");
	free(m);
	/* Failed sessions stay queryable for a while: the same holds there. */
	registry_fail(i);
	m = query(attacker[1], &r);
	ck_assert_int_eq(r, -ENOENT);
	free(m);
	for (int k = 0; k < 2; k++) {
		(void)close(victim[k]);
		(void)close(attacker[k]);
	}
}
END_TEST

START_TEST(not_a_socket)
{
	int p[2], r;
	struct tk_msg *m;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	m = query(p[0], &r);
	ck_assert_int_eq(r, -ENOTSOCK);
	free(m);
	m = query(-1, &r);
	ck_assert_int_eq(r, -EBADF);
	free(m);
	(void)close(p[0]);
	(void)close(p[1]);
	/* A file, and an O_PATH descriptor: told apart from a socket without
	 * asking the file system (fstat() of a FUSE file waits on its server). */
	p[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	p[1] = open("/dev/null", O_PATH | O_CLOEXEC);
	ck_assert_int_ge(p[0], 0);
	ck_assert_int_ge(p[1], 0);
	m = query(p[0], &r);
	ck_assert_int_eq(r, -ENOTSOCK);
	free(m);
	m = query(p[1], &r);
	ck_assert_int_eq(r, -ENOTSOCK);
	free(m);
	(void)close(p[0]);
	(void)close(p[1]);
}
END_TEST

/* Every identity of the peer, in order, after the chain; an identity over
 * the bound ends the list there (never cut). */
START_TEST(identity_list)
{
	static const uint8_t der[3] = { 1, 2, 3 };
	static char big[TK_DOC_ID_MAX + 2];
	const struct registry_piece cert = { der, sizeof(der) };
	const struct registry_piece ids[] = { { "bob@example.test", 16 },
					      { "spiffe://td.test/web", 20 },
					      { "192.0.2.7", 9 } };
	struct registry_piece cut[] = { { "bob@example.test", 16 }, { big, sizeof(big) - 1 },
					{ "192.0.2.7", 9 } };
	struct session_info *i = registry_info_new(&cert, 1, ids, 3);

	ck_assert_ptr_nonnull(i);
	ck_assert_uint_eq(i->n_certs, 1);
	ck_assert_uint_eq(i->n_ids, 3);
	ck_assert_uint_eq(i->id_len[1], 20);
	ck_assert_int_eq(memcmp(i->data, der, 3), 0);
	ck_assert_int_eq(memcmp(i->data + 3 + 16, "spiffe://td.test/web", 20), 0);
	ck_assert_uint_eq(i->data_len, 3 + 16 + 20 + 9);
	free(i); /* never published */
	memset(big, 'a', sizeof(big) - 1);
	i = registry_info_new(&cert, 1, cut, 3);
	ck_assert_ptr_nonnull(i);
	ck_assert_uint_eq(i->n_ids, 1);
	free(i);
}
END_TEST

/* fail_as(UID, KEEP): a failed session of UID; its socket stays open (for
 * a query) if KEEP, and is returned, else -1. */
static int fail_as(uid_t uid, int keep)
{
	int sv[2];
	struct session_info *i;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	i = add(sv[1], "peer.example.test");
	i->uid = uid;
	registry_fail(i);
	(void)close(sv[0]);
	if (keep)
		return sv[1];
	(void)close(sv[1]); /* the entry keeps its cookie, never reused */
	return -1;
}

static int failed_state(int fd)
{
	int r;
	struct tk_msg *m = query(fd, &r);
	int state = r == 0 ? m->state : -1;

	free(m);
	return state;
}

/* One uid's failures push out only its own older entries: another
 * caller's failed session stays queryable however often it fails (before,
 * 256 failures of anyone's pushed out everyone's).  The bound of all is
 * still kept, once several uids hold the rest. */
START_TEST(failed_share)
{
	const unsigned n = 5 * REGISTRY_FAILED_PER_UID;
	int victim = fail_as(1000, 1), first = -1, last_kept = -1, last = -1;

	ck_assert_int_eq(failed_state(victim), TK_STATE_FAILED);
	for (unsigned k = 0; k < n; k++) {
		int keep = k == 0 || k == n - REGISTRY_FAILED_PER_UID || k == n - 1;
		int fd = fail_as(2000, keep);

		if (k == 0)
			first = fd;
		else if (k == n - REGISTRY_FAILED_PER_UID)
			last_kept = fd;
		else if (k == n - 1)
			last = fd;
	}
	ck_assert_msg(failed_state(victim) == TK_STATE_FAILED,
		      "%u failures of another uid pushed out the victim's failed session", n);
	ck_assert_int_eq(failed_state(first), -1);
	ck_assert_int_eq(failed_state(last_kept), TK_STATE_FAILED);
	ck_assert_int_eq(failed_state(last), TK_STATE_FAILED);
	/* Others holding more than the rest of the bound: the oldest of all
	 * goes, the victim's included. */
	for (uid_t u = 3000; u < 3000 + REGISTRY_FAILED_KEEP / REGISTRY_FAILED_PER_UID; u++)
		for (unsigned k = 0; k < REGISTRY_FAILED_PER_UID; k++)
			(void)fail_as(u, 0);
	ck_assert_int_eq(failed_state(victim), -1);
	ck_assert_int_eq(failed_state(last), -1);
	(void)close(victim);
	(void)close(first);
	(void)close(last_kept);
	(void)close(last);
}
END_TEST

int main(void)
{
	const TTest *tests[] = { found_by_own_socket, inode_wrap, not_a_socket, identity_list, failed_share,
				 NULL };

	return tkt_run("registry", "/keyd/registry", NULL, NULL, 0, tests);
}
