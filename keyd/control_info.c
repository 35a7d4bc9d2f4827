/* The control requests besides START, QUERY and RELOAD: STATUS (counters
 * for tlskeyctl status/metrics), CHECK (may this caller use an
 * identity?), KEYS (what is served) and UPGRADE.  Rows of control.c's
 * dispatch table; see control.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/namelist.h"
#include "keyd/aclstore.h"
#include "keyd/control.h"
#include "keyd/keylist.h"
#include "keyd/log.h"
#include "keyd/outcome.h"
#include "keyd/stats.h"
#include "keyd/status.h"
#include "keyd/upgrade.h"
#include "keyd/vhost.h"

/* tlskeyctl status / metrics: render the counters, answer with a memfd. */
int control_handle_status(struct control_call *x)
{
	char *doc = NULL;
	size_t len = 0;
	int r = status_render(x->k, x->m->format, &doc, &len);

	if (r == 0)
		r = status_send(x->ctlfd, doc, len);
	free(doc);
	if (r < 0) {
		keyd_log(LOG_WARNING, "uid=%u pid=%d: status not sent: %s", (unsigned)x->who->cred.uid,
			 (int)x->who->cred.pid, strerror(-r));
		tk_msg_send_result(x->ctlfd, -r, r == -EINVAL ? "unknown status format"
							       : "cannot make the status document");
	}
	return 1;
}

int control_refuse_audited(struct control_call *x, int err, const char *why)
{
	struct keyd_audit a = { .event = "refused", .cred = &x->who->cred, .unit = x->who->unit,
				.err = err, .sign_us = -1, .handshake_ms = -1, .detail = why };

	keyd_audit(&a);
	stats_outcome(x->k->stats, STATS_REFUSED, err, (size_t)-1);
	tk_msg_send_result(x->ctlfd, err, why);
	return 1;
}

/* CHECK of a list or pattern: what START decides at admission (vhost.c),
 * that the caller may use at least one of its identities. */
static int check_list(struct control_call *x, struct acl_request *areq)
{
	struct vhost_set *set = NULL;
	struct acl_decision d;
	struct acl *acl;
	char why[TK_MESSAGE_MAX];
	unsigned gen;
	size_t i;
	int r = -EINVAL;

	(void)snprintf(why, sizeof(why), "a list of local names needs the server role");
	acl = aclstore_current(x->k, &gen);
	if (areq->role == ACL_ROLE_SERVER && tk_namelist_validate(x->m->myname) == 0)
		r = vhost_admit(x->k->conf, x->who->groups_complete ? acl : NULL, areq, x->m->myname,
				&set, &i, &d, why, sizeof(why));
	else if (areq->role == ACL_ROLE_SERVER)
		(void)snprintf(why, sizeof(why), "invalid list of local names");
	acl_unref(acl);
	vhost_free(set);
	if (r == 0)
		(void)snprintf(why, sizeof(why), "%s as server: allowed", x->m->myname);
	tk_msg_send_result(x->ctlfd, -r, why);
	return 1;
}

/* CHECK (tlskey-tunnel at start): would a START from this caller for
 * myname in role be admitted?  The same identity lookup and ACL decision
 * as handle_start(), nothing touched, nothing audited (no key is used);
 * it answers only about the caller itself and tells a refused caller no
 * more than a refused START does. */
int control_handle_check(struct control_call *x)
{
	const struct tk_msg *m = x->m;
	const struct keyd_identity *id;
	const char *role = m->role == TK_ROLE_SERVER ? "server" : "client";
	struct acl_subject subj = caller_acl_subject(x->who);
	struct acl_decision d;
	struct acl_request areq;
	struct acl *acl;
	char why[TK_MESSAGE_MAX];
	unsigned gen;
	int r;

	if (m->role != TK_ROLE_SERVER && m->role != TK_ROLE_CLIENT) {
		tk_msg_send_result(x->ctlfd, EINVAL, "role must be client or server");
		return 1;
	}
	areq = (struct acl_request){ .subject = &subj,
				     .role = m->role == TK_ROLE_SERVER ? ACL_ROLE_SERVER : ACL_ROLE_CLIENT,
				     .flags = m->flags };
	if (tk_namelist_is_multi(m->myname))
		return check_list(x, &areq);
	id = keyd_conf_identity(x->k->conf, m->myname);
	if (!id) {
		(void)snprintf(why, sizeof(why), "no key configured for %s", m->myname);
		tk_msg_send_result(x->ctlfd, ENOKEY, why);
		return 1;
	}
	areq.myname = id->name;
	acl = aclstore_current(x->k, &gen);
	r = acl && x->who->groups_complete && acl_check(acl, &areq, &d) == 0 && d.allowed;
	acl_unref(acl);
	if (!r) {
		(void)snprintf(why, sizeof(why), "access to %s as %s denied by tlskeyd policy", id->name, role);
		tk_msg_send_result(x->ctlfd, EACCES, why);
		return 1;
	}
	(void)snprintf(why, sizeof(why), "%s as %s: allowed", id->name, role);
	tk_msg_send_result(x->ctlfd, 0, why);
	return 1;
}

int control_refuse_plain(struct control_call *x, int err, const char *why)
{
	tk_msg_send_result(x->ctlfd, err, why);
	return 1;
}

/* tlskeyctl keys: what is served (keylist.c), then a RESULT. */
int control_handle_keys(struct control_call *x)
{
	char summary[TK_MESSAGE_MAX] = "";
	int r = keylist_send(x->k, x->ctlfd, summary, sizeof(summary));

	/* Also after a full socket: by now the client may have read some. */
	tk_msg_send_result(x->ctlfd, r < 0 ? -r : 0, summary);
	return 1;
}

/* tlskeyctl upgrade: upgrade.c answers once the new process took over
 * or failed, on a duplicate of the control socket. */
int control_handle_upgrade(struct control_call *x)
{
	int fd;

	if (!x->k->upgrade) {
		tk_msg_send_result(x->ctlfd, ENOTSUP, "this tlskeyd cannot upgrade");
		return 1;
	}
	fd = fcntl(x->ctlfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		tk_msg_send_result(x->ctlfd, errno, "cannot keep the request open");
		return 1;
	}
	(void)upgrade_begin(x->k->upgrade, fd, &x->who->cred); /* fd now owned by the upgrade */
	return CONTROL_KEPT;
}
