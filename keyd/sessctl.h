/* The control rows about an established session, whose protected
 * descriptor the request carries as its credential (keyd/sessctl.c):
 * QUERY_FULL (tlskey_query_session()) answered here on the accept thread
 * from the registry, and SESSION_CTL (exporter, KeyUpdate, close_notify)
 * handed to the worker that owns the session (wcmd.h). */
#ifndef TLSKEY_KEYD_SESSCTL_H
#define TLSKEY_KEYD_SESSCTL_H

#include "keyd/control.h"

/* QUERY_FULL: the session document in a sealed memfd on a QUERY_RESULT;
 * refusals are a QUERY_RESULT with the errno.  Return 1. */
int sessctl_handle_query(struct control_call *x);
int sessctl_refuse_query(struct control_call *x, int err, const char *why);

/* SESSION_CTL: check the fields (op, label, context and length bounds),
 * find the live session behind x->fd, queue the request to its worker
 * with a copy of the control socket; the worker answers.  Refusals (and
 * a full queue: EAGAIN) are a RESULT here.  Return 1. */
int sessctl_check(struct control_call *x, char *why, size_t len);
int sessctl_handle_ctl(struct control_call *x);
int sessctl_refuse_ctl(struct control_call *x, int err, const char *why);

#endif
