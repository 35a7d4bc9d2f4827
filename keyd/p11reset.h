/* The PKCS#11 reset protocol (keyd/p11reset.c). */
#ifndef TLSKEY_KEYD_P11RESET_H
#define TLSKEY_KEYD_P11RESET_H

#include "keyd/keyd.h"

/* A key that used to work cannot be opened: ask for a module reset.  Any
 * thread; wakes the accept loop. */
void p11reset_request(struct keyd *k);

/* A key was opened: a reset asked for but not begun is no longer needed
 * (it would only fail the handshakes under way).  Any thread. */
void p11reset_cancel(struct keyd *k);

/* Worker side: 1 if this worker must drop its keys now and then call
 * p11reset_worker_ack(); 0 otherwise.  *acked is the worker's own flag
 * (cleared here once the reset is over). */
int p11reset_worker_due(struct keyd *k, int *acked);

/* Worker side: this worker holds no key object of the old module any more. */
void p11reset_worker_ack(struct keyd *k, int *acked);

/* Accept loop side, once per loop turn: start a wanted reset (at most one
 * per 5 s), and once every worker acknowledged, re-initialise the module
 * and let dispatching resume. */
void p11reset_step(struct keyd *k, unsigned long long now);

#endif
