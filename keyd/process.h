/* Process-wide hardening (keyd/process.c). */
#ifndef TLSKEY_KEYD_PROCESS_H
#define TLSKEY_KEYD_PROCESS_H

/* No core dumps, no ptrace by same-uid processes, the open file limit
 * raised to its hard limit, umask 077.  Failures are logged, not fatal. */
void process_harden(void);

#endif
