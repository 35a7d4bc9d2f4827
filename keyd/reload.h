/* Reloading everything (keyd/reload.c): SIGHUP and RELOAD. */
#ifndef TLSKEY_KEYD_RELOAD_H
#define TLSKEY_KEYD_RELOAD_H

#include <stddef.h>

#include "keyd/keyd.h"

/* Read the configuration file again and build a complete new generation
 * (gen.h) and ACL off to the side; publish both only if neither has an
 * error.  Accept thread only (it is the only reader of k->gen and
 * k->conf).  Follows systemd's reload protocol (RELOADING=1 with
 * MONOTONIC_USEC, then READY=1 and a STATUS= line).  Writes the outcome
 * to msg: what is in force now, settings that need a restart ("needs a
 * restart: socket"), or every error found.  Returns 0, or a negative
 * errno with everything left as it was. */
int reload_run(struct keyd *k, char *msg, size_t len);

#endif
