/* Online OCSP answers reaching a worker (keyd/ocsp_conn.c). */
#ifndef TLSKEY_KEYD_OCSP_CONN_H
#define TLSKEY_KEYD_OCSP_CONN_H

#include "keyd/conn.h"

struct worker;

/* Take w's answered fetches and continue each waiting conn: deliver its
 * protected descriptor, or fail it.  Worker thread, every loop turn. */
void ocsp_conn_deliver(struct worker *w);

/* A conn waiting for a fetch reached its handshake deadline. */
enum conn_status ocsp_conn_timeout(struct conn *c) CONN_MUST_CHECK;

/* Free answers not taken (worker stopping).  */
void ocsp_conn_drop(struct worker *w);

#endif
