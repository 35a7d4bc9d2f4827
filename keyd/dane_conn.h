/* DANE for one connection (keyd/dane_conn.c): the TLSA lookup before a
 * client-role handshake, and its answer coming back to the worker. */
#ifndef TLSKEY_KEYD_DANE_CONN_H
#define TLSKEY_KEYD_DANE_CONN_H

#include "keyd/conn.h"

struct worker;

/* Start a newly adopted conn: when DANE applies to it (client role, dane
 * not off for its server name, identity or globally), with a fresh
 * cached answer or after the lookup, decide (dane_decide) and begin the
 * handshake or fail it; otherwise begin the handshake at once.  The
 * handshake timer runs from here. */
enum conn_status dane_conn_begin(struct conn *c) CONN_MUST_CHECK;

/* Give the worker's answered lookups to the conns waiting for them (a conn
 * that went away meanwhile is simply not found).  Worker thread. */
void dane_worker_deliver(struct worker *w);

/* The handshake timer of a conn still waiting for its TLSA answer fired. */
enum conn_status dane_conn_timeout(struct conn *c) CONN_MUST_CHECK;

/* Free answered lookups nobody took (worker shutdown). */
void dane_worker_drop(struct worker *w);

#endif
