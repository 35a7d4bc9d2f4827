#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sessdoc.h"
#include "common/util.h"
#include "keyd/log.h"
#include "keyd/passclose.h"
#include "keyd/registry.h"
#include "keyd/sessctl.h"
#include "keyd/status.h"
#include "keyd/wcmd.h"

static const char *why_not(int err)
{
	switch (err) {
	case ENOENT:
		return "no tlskeyd session behind this descriptor";
	case ENOTCONN:
		return "the session has failed";
	default:
		return "not a tlskeyd protected descriptor";
	}
}

static void query_refusal(int ctlfd, int err, const char *why)
{
	struct tk_msg m = { .type = TK_MSG_QUERY_RESULT, .present = 1u << TK_TAG_ERRNO };

	m.err = (uint32_t)err;
	(void)tk_msg_set_str(&m, TK_TAG_MESSAGE, why);
	(void)tk_msg_send(ctlfd, &m, -1);
}

int sessctl_handle_query(struct control_call *x)
{
	uint8_t *doc = NULL;
	size_t len = 0;
	int r = registry_query_doc(x->fd, &doc, &len);

	(void)passclose(x->fd);
	x->fd = -1;
	if (r == 0)
		r = status_send_memfd(x->ctlfd, TK_MSG_QUERY_RESULT, "tlskeyd-session", doc, len);
	if (r < 0)
		query_refusal(x->ctlfd, -r, r == -ENOMEM ? "out of memory" : why_not(-r));
	free(doc);
	return 1;
}

int sessctl_refuse_query(struct control_call *x, int err, const char *why)
{
	query_refusal(x->ctlfd, err, why);
	if (x->fd >= 0)
		(void)passclose(x->fd);
	x->fd = -1;
	return 1;
}

int sessctl_check(struct control_call *x, char *why, size_t len)
{
	const struct tk_msg *m = x->m;

	if (m->ctl_op == 0 || m->ctl_op >= TK_CTL_MAX) {
		(void)snprintf(why, len, "unknown session control %u", m->ctl_op);
		return -EINVAL;
	}
	if (m->ctl_op != TK_CTL_EXPORT) {
		if (TK_HAS(m, TK_TAG_LABEL) || TK_HAS(m, TK_TAG_CONTEXT) || TK_HAS(m, TK_TAG_EXPORT_LEN)) {
			(void)snprintf(why, len, "exporter fields on another session control");
			return -EINVAL;
		}
		return 0;
	}
	if (!TK_HAS(m, TK_TAG_LABEL) || !m->label[0]) {
		(void)snprintf(why, len, "the exporter needs a label");
		return -EINVAL;
	}
	if (m->export_len == 0 || m->export_len > TK_EXPORT_MAX) {
		(void)snprintf(why, len, "exporter length must be 1 to %u bytes", TK_EXPORT_MAX);
		return -EINVAL;
	}
	return 0;
}

static struct wcmd *wcmd_from(const struct tk_msg *m, const struct ucred *cred, int ctlfd)
{
	struct wcmd *cmd = calloc(1, sizeof(*cmd));

	if (!cmd)
		return NULL;
	cmd->cred = *cred;
	cmd->op = m->ctl_op;
	cmd->ctlfd = ctlfd;
	cmd->out_len = m->export_len;
	memcpy(cmd->label, m->label, sizeof(cmd->label));
	cmd->has_context = TK_HAS(m, TK_TAG_CONTEXT);
	cmd->context_len = m->context_len;
	memcpy(cmd->context, m->context, m->context_len);
	return cmd;
}

int sessctl_handle_ctl(struct control_call *x)
{
	struct wcmd *cmd = NULL;
	void *owner = NULL;
	uint64_t serial = 0;
	int r, dup;

	r = registry_lookup(x->fd, &owner, &serial);
	(void)passclose(x->fd);
	x->fd = -1;
	if (r < 0) {
		tk_msg_send_result(x->ctlfd, -r, why_not(-r));
		return 1;
	}
	/* The worker answers on its own copy: the accept loop closes ours. */
	dup = fcntl(x->ctlfd, F_DUPFD_CLOEXEC, 3);
	if (dup >= 0)
		cmd = wcmd_from(x->m, &x->who->cred, dup);
	if (!cmd) {
		(void)tk_close(dup);
		tk_msg_send_result(x->ctlfd, ENOMEM, "out of memory");
		return 1;
	}
	cmd->serial = serial;
	r = wcmd_submit(owner, cmd);
	if (r < 0) {
		(void)tk_close(cmd->ctlfd);
		tk_wipe(cmd, sizeof(*cmd));
		free(cmd);
		tk_msg_send_result(x->ctlfd, -r,
				   r == -EAGAIN ? "too many session controls waiting for this session's "
						  "worker, try again"
						: "tlskeyd is shutting down");
		return 1;
	}
	return CONTROL_KEPT;
}

int sessctl_refuse_ctl(struct control_call *x, int err, const char *why)
{
	tk_msg_send_result(x->ctlfd, err, why);
	if (x->fd >= 0)
		(void)passclose(x->fd);
	x->fd = -1;
	return 1;
}
