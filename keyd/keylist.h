/* What the daemon serves (keyd/keylist.c): the KEYS request. */
#ifndef TLSKEY_KEYD_KEYLIST_H
#define TLSKEY_KEYD_KEYLIST_H

#include <stddef.h>

#include "keyd/keyd.h"

/* Send one KEY_INFO per identity of the generation in force on ctlfd (its
 * name, certificate source and served leaf certificate), without
 * blocking: a client that does not read gets a truncated list.  Accept
 * thread only.  Writes the summary for the closing RESULT to summary.
 * Returns 0, or a negative errno (-EAGAIN: the client's socket was full)
 * after which the list is incomplete. */
int keylist_send(struct keyd *k, int ctlfd, char *summary, size_t len);

#endif
