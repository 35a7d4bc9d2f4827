/* libtlskey internals shared by its files (lib/client.c). */
#ifndef TLSKEY_LIB_CLIENT_H
#define TLSKEY_LIB_CLIENT_H

/* Set the calling thread's tlskey_last_error() text. */
void lib_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clear it (every public call starts so). */
void lib_error_clear(void);

/* The bound on one wait for the daemon, in ms (0: none), for a request
 * whose handshake timer is hs_ms (0: the daemon's default); TLSKEYD_TIMEOUT
 * overrides. */
unsigned lib_wait_budget_ms(unsigned hs_ms);

/* Milliseconds left until deadline for poll(): -1 none, 0 passed. */
int lib_wait_left(unsigned long long deadline);

/* The deadline (CLOCK_MONOTONIC ms) budget ms from now, 0 for none. */
unsigned long long lib_wait_deadline(unsigned budget);

/* Wait until sock is readable or the deadline passes.  0, -ETIMEDOUT
 * (the error text says so) or another negative errno. */
int lib_wait_readable(int sock, unsigned long long deadline, unsigned budget);

/* Connect to the daemon's socket (TLSKEYD_SOCKET), with sends bounded by
 * budget ms.  0 and the socket in *ret_sock, or a negative errno. */
int lib_daemon_connect(int *ret_sock, unsigned budget);

#endif
