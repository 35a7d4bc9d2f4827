#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <systemd/sd-login.h>

#include "common/flags.h"
#include "common/namelist.h"
#include "common/util.h"
#include "keyd/aclstore.h"
#include "keyd/alpn.h"
#include "keyd/control.h"
#include "keyd/conn.h"
#include "keyd/gen.h"
#include "keyd/reload.h"
#include "keyd/registry.h"
#include "keyd/sessctl.h"
#include "keyd/start_check.h"
#include "keyd/log.h"
#include "keyd/outcome.h"
#include "keyd/passclose.h"
#include "keyd/stats.h"
#include "keyd/vhost.h"
#include "tlskey/starttls.h"

void control_refuse(int ctlfd, const struct ucred *cred, const char *unit, int err, const char *why)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);

	if (!cred) {
		if (getsockopt(ctlfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
			peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		cred = &peer;
	}
	{
		struct keyd_audit a = { .event = "refused", .cred = cred, .unit = unit, .err = err,
					.sign_us = -1, .handshake_ms = -1, .detail = why };
		keyd_audit(&a);
	}
	tk_msg_send_result(ctlfd, err, why);
	/* Closing a UNIX socket with unread messages resets the peer, and a
	 * reset hides the answer just queued for it (the client would see
	 * ECONNRESET, not our errno).  passclose_ctl() shuts it first (the
	 * client's own send now fails with EPIPE, and it reads the answer),
	 * reads what had arrived, closing the descriptors in it in bounded
	 * time, then closes. */
	(void)passclose_ctl(ctlfd);
}

/* tlskey_query(): the passed descriptor is the credential.  Answered with
 * a QUERY_RESULT, also when refused (r < 0: why the descriptor is no
 * session of ours).  Closes x->fd and says so (-1): the descriptor number
 * may belong to another thread's new descriptor right after the close,
 * so nobody may close it again.  why: the refusal's reason, or NULL for
 * the registry's. */
static int query_reply(struct control_call *x, int r, const char *why)
{
	struct tk_msg *m = calloc(1, sizeof(*m));
	int fd = x->fd;

	x->fd = -1;
	if (!m) {
		(void)passclose(fd);
		return -ENOMEM;
	}
	m->type = TK_MSG_QUERY_RESULT;
	m->present = 1u << TK_TAG_ERRNO;
	if (r == 0)
		r = registry_query(fd, m);
	if (r < 0) {
		m->err = (uint32_t)-r;
		if (why && why[0])
			(void)tk_msg_set_str(m, TK_TAG_MESSAGE, why);
		else if (r != -ENOBUFS) /* registry_query() said how large */
			(void)tk_msg_set_str(m, TK_TAG_MESSAGE,
					     r == -ENOENT ? "no tlskeyd session behind this descriptor"
							  : "not a tlskeyd protected descriptor");
	}
	(void)tk_msg_send(x->ctlfd, m, -1);
	free(m);
	(void)passclose(fd);
	return 1;
}

static int handle_query(struct control_call *x)
{
	return query_reply(x, 0, NULL);
}

static int refuse_query(struct control_call *x, int err, const char *why)
{
	return query_reply(x, -err, why);
}

/* tlskeyctl reload: everything (reload.c). */
static int handle_reload(struct control_call *x)
{
	char why[TK_MESSAGE_MAX] = "";
	int r = reload_run(x->k, why, sizeof(why));

	aclstore_audit_reload(x->k, &x->who->cred, x->who->unit, r, why);
	tk_msg_send_result(x->ctlfd, r < 0 ? -r : 0, why);
	return 1;
}

static int refuse_reload(struct control_call *x, int err, const char *why)
{
	aclstore_audit_reload(x->k, &x->who->cred, x->who->unit, -err, why);
	tk_msg_send_result(x->ctlfd, err, why);
	return 1;
}

/* The fields of START a session keeps (struct keyd_start). */
static void start_keep(struct keyd_start *dst, const struct tk_msg *m)
{
	*dst = (struct keyd_start){ .present = m->present,
				    .role = m->role,
				    .proto = m->proto,
				    .checksni = m->checksni,
				    .allow_hs_timeout = m->allow_hs_timeout,
				    .flags = m->flags,
				    .peername_max = TK_HAS(m, TK_TAG_PEERNAME_MAX) ? m->peername_max : UINT32_MAX,
				    .timeout_ms = m->timeout_ms,
				    .alpn_strict = m->alpn_strict,
				    .alpn_len = m->alpn_len };
	memcpy(dst->alpn, m->alpn, sizeof(dst->alpn));
	memcpy(dst->myname, m->myname, sizeof(dst->myname));
	memcpy(dst->sniname, m->sniname, sizeof(dst->sniname));
}

static int handle_start(struct control_call *x);

/* The passed socket is the caller's: take the options the daemon relies
 * on first (before any path can close it), then judge the wire fields. */
static int check_start(struct control_call *x, char *why, size_t len)
{
	if (x->fd >= 0)
		start_take_options(x->fd);
	return start_check_request(x->m, why, len);
}

static int refuse_start(struct control_call *x, int err, const char *why)
{
	char remote[64];
	struct keyd_audit a = { .event = "refused", .cred = &x->who->cred, .unit = x->who->unit,
				.myname = x->m->myname[0] ? x->m->myname : NULL,
				.err = err, .sign_us = -1, .handshake_ms = -1, .detail = why,
				.remote = outcome_remote(x->fd, remote, sizeof(remote)),
				.flags = x->m->flags, .has_flags = 1 };

	keyd_audit(&a);
	stats_outcome(x->k->stats, STATS_REFUSED, err, (size_t)-1);
	tk_msg_send_result(x->ctlfd, err, why);
	if (x->fd >= 0) {
		/* The contract: a refused socket is shut down. */
		(void)shutdown(x->fd, SHUT_RDWR);
		x->fd = passclose(x->fd);
	}
	return -err;
}

/* Every request type the daemon accepts, and the rules that apply before
 * its handler runs (OpenSSH monitor.c's mon_table is the model): START
 * is judged by the ACL, QUERY by possession of the descriptor, RELOAD,
 * KEYS and UPGRADE by
 * the caller's uid. */
static const struct control_entry control_table[] = {
	{ TK_MSG_START, "start", CONTROL_FD_REQUIRED, CONTROL_ANYONE, check_start, handle_start,
	  refuse_start },
	{ TK_MSG_QUERY, "query", CONTROL_FD_REQUIRED, CONTROL_ANYONE, NULL, handle_query,
	  refuse_query },
	{ TK_MSG_RELOAD, "reload", CONTROL_FD_NONE, CONTROL_ADMIN, NULL, handle_reload,
	  refuse_reload },
	{ TK_MSG_STATUS, "status", CONTROL_FD_NONE, CONTROL_OPERATOR, NULL, control_handle_status,
	  control_refuse_audited },
	{ TK_MSG_CHECK, "check", CONTROL_FD_NONE, CONTROL_ANYONE, NULL, control_handle_check,
	  control_refuse_plain },
	{ TK_MSG_KEYS, "list the keys of", CONTROL_FD_NONE, CONTROL_ADMIN, NULL, control_handle_keys,
	  control_refuse_audited },
	{ TK_MSG_UPGRADE, "upgrade", CONTROL_FD_NONE, CONTROL_ADMIN, NULL, control_handle_upgrade,
	  control_refuse_audited },
	{ TK_MSG_QUERY_FULL, "query", CONTROL_FD_REQUIRED, CONTROL_ANYONE, NULL, sessctl_handle_query,
	  sessctl_refuse_query },
	{ TK_MSG_SESSION_CTL, "control", CONTROL_FD_REQUIRED, CONTROL_ANYONE, sessctl_check,
	  sessctl_handle_ctl, sessctl_refuse_ctl },
};

const struct control_entry *control_entry_find(unsigned type)
{
	for (size_t i = 0; i < sizeof(control_table) / sizeof(control_table[0]); i++)
		if (control_table[i].type == type)
			return &control_table[i];
	return NULL;
}

int control_may_send(const struct control_entry *e, const struct ucred *cred)
{
	switch (e->who) {
	case CONTROL_ANYONE:
		return 1;
	case CONTROL_ADMIN:
	case CONTROL_OPERATOR:
		/* Root and the daemon's own user. */
		return cred->uid == 0 || cred->uid == geteuid();
	}
	return 0;
}

int control_in_admin_group(const struct caller *who, const struct keyd_conf *conf)
{
	return conf->admin_group && caller_in_group(who, (gid_t)conf->admin_gid);
}

/* Why a caller may not send a request of row e. */
static void may_not(const struct control_entry *e, const struct keyd_conf *conf, char *why,
		    size_t len)
{
	if (e->who == CONTROL_OPERATOR && conf->admin_group)
		(void)snprintf(why, len, "permission denied: only root, the daemon's user (uid %u) and "
			       "members of admin-group %s may ask for tlskeyd's %s",
			       (unsigned)geteuid(), conf->admin_group, e->name);
	else if (e->who == CONTROL_OPERATOR)
		(void)snprintf(why, len, "permission denied: only root and the daemon's user (uid %u) "
			       "may ask for tlskeyd's %s (no admin-group is configured)",
			       (unsigned)geteuid(), e->name);
	else
		(void)snprintf(why, len, "only root and the daemon's user (uid %u) may %s tlskeyd",
			       (unsigned)geteuid(), e->name);
}

int control_dispatch(struct control_call *x)
{
	const struct control_entry *e = control_entry_find(x->m->type);
	char why[TK_MESSAGE_MAX] = "";
	int r;

	if (!e) {
		x->fd = passclose(x->fd);
		tk_msg_send_result(x->ctlfd, EBADMSG, "unexpected message type");
		return -EBADMSG;
	}
	if (!control_may_send(e, &x->who->cred) &&
	    !(e->who == CONTROL_OPERATOR && control_in_admin_group(x->who, x->k->conf))) {
		x->fd = passclose(x->fd);
		may_not(e, x->k->conf, why, sizeof(why));
		return e->refuse(x, EPERM, why);
	}
	if (e->check) {
		r = e->check(x, why, sizeof(why));
		if (r < 0)
			return e->refuse(x, -r, why);
	}
	/* A descriptor the request has no use for is dropped, unread. */
	if (e->fd_rule == CONTROL_FD_NONE)
		x->fd = passclose(x->fd);
	if (e->fd_rule == CONTROL_FD_REQUIRED && x->fd < 0)
		return e->refuse(x, EBADF, "no file descriptor attached");
	return e->handle(x);
}

/* A message its connection does not speak for: refused (EPERM, audited),
 * its descriptor closed; the caller drops the connection. */
static int refuse_sender(int ctlfd, const struct caller *who, int *ret_fd, const char *why,
			 const struct ucred *sent)
{
	struct keyd_audit a = { .event = "refused", .cred = &who->cred,
				.unit = who->unit[0] ? who->unit : NULL, .err = EPERM,
				.sign_us = -1, .handshake_ms = -1, .detail = why };

	if (ret_fd && *ret_fd >= 0)
		*ret_fd = passclose(*ret_fd);
	keyd_log(LOG_WARNING, "uid=%u pid=%d: a request sent by pid %d as uid %u gid %u on its "
		 "connection: refused", (unsigned)who->cred.uid, (int)who->cred.pid, (int)sent->pid,
		 (unsigned)sent->uid, (unsigned)sent->gid);
	keyd_audit(&a);
	tk_msg_send_result(ctlfd, EPERM, why);
	return -EPERM;
}

int control_recv(int ctlfd, const struct caller *who, struct tk_msg *m, int *ret_fd)
{
	struct ucred sent;
	char why[TK_MESSAGE_MAX];
	int r = tk_msg_recv_cred(ctlfd, m, ret_fd, &sent);

	if (r == -EAGAIN)
		return r;
	/* Who connected is who may speak on this connection (SO_PEERCRED,
	 * its pidfd): not a child it forked, not a process it passed the
	 * socket to.  The kernel records the sender of every message (the
	 * listener has SO_PASSCRED); pid 0 means it could not (a sender in a
	 * PID namespace we cannot see, whose connect-time pid is 0 too). */
	if (r == 0 && sent.pid != 0 && sent.pid != who->cred.pid) {
		(void)snprintf(why, sizeof(why), "this connection to tlskeyd was opened by pid %d; a request "
			       "from pid %d on it is not taken: connect again", (int)who->cred.pid,
			       (int)sent.pid);
		return refuse_sender(ctlfd, who, ret_fd, why, &sent);
	}
	/* Nor the same process after it changed who it is: its euid and
	 * egid as it connected (SO_PEERCRED) must be what the message speaks
	 * for (the library attaches them; without, the kernel records the
	 * real ones).  A process that dropped privileges cannot go on using
	 * a connection it made before, one the library kept without its
	 * knowing, say.  (One that can take its old ids back, a saved uid,
	 * may claim them: it could become them anyway.) */
	if (r == 0 && sent.pid != 0 && (sent.uid != who->cred.uid || sent.gid != who->cred.gid)) {
		(void)snprintf(why, sizeof(why), "this connection to tlskeyd was opened as uid %u gid %u; "
			       "a request for uid %u gid %u on it is not taken: connect again",
			       (unsigned)who->cred.uid, (unsigned)who->cred.gid, (unsigned)sent.uid,
			       (unsigned)sent.gid);
		return refuse_sender(ctlfd, who, ret_fd, why, &sent);
	}
	if (r == -EMFILE) {
		struct keyd_audit a = { .event = "refused", .cred = &who->cred,
					.unit = who->unit[0] ? who->unit : NULL, .err = EAGAIN,
					.sign_us = -1, .handshake_ms = -1,
					.detail = "out of file descriptors" };

		keyd_log(LOG_ERR, "uid=%u pid=%d: out of file descriptors, request dropped",
			 (unsigned)who->cred.uid, (int)who->cred.pid);
		keyd_audit(&a);
		tk_msg_send_result(ctlfd, EAGAIN, "tlskeyd is out of file descriptors, try again later");
		return r;
	}
	if (r < 0) {
		keyd_log(LOG_WARNING, "uid=%u pid=%d: malformed request: %s", (unsigned)who->cred.uid,
			 (int)who->cred.pid, strerror(-r));
		if (r != -ECONNRESET)
			tk_msg_send_result(ctlfd, -r, "malformed request");
	}
	return r;
}

int control_admit(struct keyd *k, int ctlfd, const struct caller *who, struct keyd_request *ret_req,
		  int *ret_netfd)
{
	struct tk_msg *m;
	int netfd = -1, r;

	/* A decoded message is large (it can carry a certificate): heap. */
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = control_recv(ctlfd, who, m, &netfd);
	if (r == 0) {
		struct control_call x = { .k = k, .ctlfd = ctlfd, .who = who, .m = m, .fd = netfd,
					  .ret_req = ret_req, .ret_netfd = ret_netfd };

		r = control_dispatch(&x);
	}
	free(m);
	return r;
}

/* The acl-denied record and counter of a START refusal by q->decision. */
static void audit_acl_denied(struct keyd *k, const struct caller *who, const struct keyd_request *q,
			     const char *role)
{
	struct keyd_audit a = { .event = "acl-denied", .cred = &who->cred, .unit = who->unit,
				.myname = q->msg.myname, .role = role, .err = EACCES,
				.rule = q->acl ? q->decision.where : "no ACL loaded",
				.sign_us = -1, .handshake_ms = -1,
				.detail = q->decision.denied_flags ? "privileged flags not granted" : NULL,
				.remote = q->remote, .flags = q->msg.flags, .has_flags = 1 };

	keyd_audit(&a);
	stats_outcome(k->stats, STATS_ACL_DENIED, EACCES, q->id->stats_slot);
}

/* The ACL's decision on q for the caller who (audited here if denied:
 * acl-denied names the rule).  Returns 0 or -EACCES with why. */
static int start_acl_check(struct keyd *k, const struct caller *who, struct keyd_request *q,
			   const char *role, char *why, size_t len)
{
	struct acl_subject subj = caller_acl_subject(who);
	struct acl_request areq;

	areq = (struct acl_request){ .subject = &subj,
				     .myname = q->msg.myname,
				     .role = q->msg.role == TK_ROLE_SERVER ? ACL_ROLE_SERVER : ACL_ROLE_CLIENT,
				     .flags = q->msg.flags };
	if (!q->acl || acl_check(q->acl, &areq, &q->decision) < 0 || !q->decision.allowed) {
		audit_acl_denied(k, who, q, role);
		(void)snprintf(why, len, "access to %s as %s denied by tlskeyd policy", q->msg.myname,
			       role);
		return -EACCES;
	}
	/* Kept with the session: a reload asks the ACL again (reeval.c). */
	caller_subject_save(who, &q->subj);
	return 0;
}

/* A list or pattern myname (vhost.c): the caller must be allowed at least
 * one of its identities now; the one the ClientHello names is judged
 * again at the pick.  q->id stands in until then. */
static int start_vhost(struct keyd *k, const struct caller *who, struct keyd_request *q, char *why,
		       size_t len)
{
	struct acl_subject subj = caller_acl_subject(who);
	struct acl_request areq = { .subject = &subj, .role = ACL_ROLE_SERVER, .flags = q->msg.flags };
	size_t i = 0;
	int r = vhost_admit(q->gen->conf, q->acl, &areq, q->msg.myname, &q->vhost, &i, &q->decision,
			    why, len);

	if (r == 0 || r == -EACCES)
		q->id = &q->gen->conf->ids[i];
	if (r == -EACCES)
		audit_acl_denied(k, who, q, "server");
	/* As start_acl_check(): reevaluation judges the caller as it was
	 * at admission (q was zeroed: uid 0 else). */
	if (r == 0)
		caller_subject_save(who, &q->subj);
	return r;
}

/* Which configured identity is meant, first, under the one case rule the
 * ACL uses too; from here on only its (canonical) name is used: for the
 * ACL decision, the audit records, the logs and what tlskey_query()
 * reports.  The ACL must never judge one spelling while the key of
 * another is used.  A list is resolved by start_vhost(), later. */
static int start_lookup(struct keyd_request *q, char *why, size_t len)
{
	if (tk_namelist_is_multi(q->msg.myname))
		return 0;
	q->id = keyd_conf_identity(q->gen->conf, q->msg.myname);
	if (!q->id) {
		(void)snprintf(why, len, "no key configured for %s", q->msg.myname);
		return -ENOKEY;
	}
	(void)snprintf(q->msg.myname, sizeof(q->msg.myname), "%s", q->id->name);
	return 0;
}

/* START, once the table's rules passed: the descriptor's kind, the
 * identity, the caller's groups and the ACL, before any key is touched. */
static int handle_start(struct control_call *x)
{
	struct keyd *k = x->k;
	const struct caller *who = x->who;
	const struct tk_msg *m = x->m;
	int ctlfd = x->ctlfd, netfd = x->fd;
	struct keyd_request q;
	struct sockaddr_storage peer;
	const char *role;
	char why[TK_MESSAGE_MAX] = "";
	int r;

	memset(&q, 0, sizeof(q));
	start_keep(&q.msg, m);
	/* The generation in force now serves this request to its end, even
	 * if a reload publishes another meanwhile (workers admit too). */
	q.gen = keyd_gen_current(k);
	/* The caller's timer may shorten the handshake, never lengthen it past
	 * handshake-timeout: a slot held for an hour by a silent peer is a
	 * slot nobody else gets. */
	if (q.msg.timeout_ms > q.gen->conf->handshake_timeout_ms) {
		keyd_log(LOG_DEBUG, "uid=%u pid=%d: handshake timer %u ms capped at handshake-timeout %u ms",
			 (unsigned)who->cred.uid, (int)who->cred.pid, q.msg.timeout_ms,
			 q.gen->conf->handshake_timeout_ms);
		q.msg.timeout_ms = q.gen->conf->handshake_timeout_ms;
	}
	r = start_check_fd(netfd, q.msg.proto, &peer, why, sizeof(why));
	if (r < 0)
		goto refuse;
	(void)outcome_remote_of(&peer, q.remote, sizeof(q.remote));

	role = q.msg.role == TK_ROLE_SERVER ? "server" : "client";
	r = start_lookup(&q, why, sizeof(why));
	if (r < 0)
		goto refuse;
	if (!who->groups_complete) {
		struct keyd_audit a = { .event = "refused", .cred = &who->cred, .unit = who->unit,
					.myname = q.msg.myname, .role = role, .err = EACCES,
					.sign_us = -1, .handshake_ms = -1,
					.detail = "supplementary groups unreadable",
					.remote = q.remote, .flags = q.msg.flags, .has_flags = 1 };

		/* Deciding on part of the list could let a deny group: rule
		 * miss the one group it names. */
		keyd_audit(&a);
		stats_outcome(k->stats, STATS_REFUSED, EACCES, (size_t)-1);
		(void)snprintf(why, sizeof(why),
			       "the caller's supplementary groups could not be read in full");
		r = -EACCES;
		goto refuse;
	}
	q.cred = who->cred;
	q.acl = aclstore_current(k, &q.acl_gen);
	r = tk_namelist_is_multi(q.msg.myname) ? start_vhost(k, who, &q, why, sizeof(why))
					       : start_acl_check(k, who, &q, role, why, sizeof(why));
	if (r < 0)
		goto refuse;
	q.id_index = (size_t)(q.id - q.gen->conf->ids);
	(void)snprintf(q.unit, sizeof(q.unit), "%s", who->unit);
	q.t_start_ms = tk_now_ms();
	*x->ret_req = q;
	*x->ret_netfd = netfd;
	x->fd = -1; /* now the caller's, with the request */
	return 0;

refuse:
	if (r != -EACCES) {
		struct keyd_audit a = { .event = "refused", .cred = &who->cred, .unit = who->unit,
					.myname = q.msg.myname[0] ? q.msg.myname : NULL,
					.err = -r, .sign_us = -1, .handshake_ms = -1, .detail = why,
					.remote = q.remote, .flags = q.msg.flags, .has_flags = 1 };
		keyd_audit(&a);
	}
	if (r != -EACCES)
		stats_outcome(k->stats, STATS_REFUSED, -r, (size_t)-1);
	tk_msg_send_result(ctlfd, -r, why);
	acl_unref(q.acl);
	gen_unref(q.gen);
	vhost_free(q.vhost);
	/* The contract: a refused socket is shut down. */
	(void)shutdown(netfd, SHUT_RDWR);
	x->fd = passclose(netfd);
	return r;
}
