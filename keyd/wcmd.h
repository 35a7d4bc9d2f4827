/* The per-worker mailbox of session controls (keyd/wcmd.c).  A GnuTLS
 * session belongs to the worker that relays it: the accept thread never
 * touches it.  SESSION_CTL requests (exporter, KeyUpdate, close_notify)
 * are queued to the owning worker, woken through its eventfd; the worker
 * runs them between event batches and answers the caller itself, with a
 * non-blocking send on its own copy of the control socket. */
#ifndef TLSKEY_KEYD_WCMD_H
#define TLSKEY_KEYD_WCMD_H

#include <stdint.h>
#include <sys/socket.h>

#include "common/wire.h"

struct worker;

/* Requests one worker holds at most; more are refused with EAGAIN. */
#define WCMD_QUEUE_MAX 64

/* One request for the session `serial` (registry.h). */
struct wcmd {
	struct wcmd *next;
	uint64_t serial;
	struct ucred cred; /* the caller: the log, and an audit record when it is
			    * not the session's own uid */
	uint8_t op;     /* TK_CTL_* */
	int ctlfd;      /* where the answer goes; owned by the wcmd */
	int has_context;
	uint16_t context_len;
	uint32_t out_len;
	char label[TK_LABEL_MAX + 1];
	uint8_t context[TK_CONTEXT_MAX];
};

/* Queue cmd to w.  Takes ownership of cmd (and its ctlfd) on success;
 * -EAGAIN (queue full) or -ESHUTDOWN (w is stopping): the caller keeps
 * it and answers. */
int wcmd_submit(struct worker *w, struct wcmd *cmd);

/* On w's own thread: run and answer every queued request. */
void wcmd_run(struct worker *w);

#endif
