/* tkt: the small helper library of the C test programs (tk-app, the fault
 * and hostile helpers): what every one of them needs and used to write
 * again.  Not a product library: failures of the test machinery itself
 * end the program (tkt_die), because a test helper that goes on after a
 * failed socket() would only blur what the shell test sees.  Built as a
 * check-only convenience library (test/lib/libtkt.la) on top of
 * libtlskey-common.la. */
#ifndef TLSKEY_TEST_TKT_H
#define TLSKEY_TEST_TKT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* ---- tkt-util.c: program identity, time, errno names, numbers ---------- */

/* Set the name tkt_die/tkt_dief print and the exit status they use
 * (default "test", 1).  `prog` must stay valid. */
void tkt_prog_set(const char *prog, int status);

/* Print "PROG: WHAT: strerror(errno)" and exit with the program's status. */
void tkt_die(const char *what) __attribute__((noreturn));

/* Print "PROG: " and the message and exit with the program's status. */
void tkt_dief(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* CLOCK_MONOTONIC in milliseconds. */
long long tkt_now_ms(void);

/* The symbolic name of errno value e ("EACCES", from strerrorname_np);
 * "E#<n>" for a value without one (a static buffer: not thread-safe). */
const char *tkt_errno_name(int e);

/* The value of an errno name, aliases included (ENOTSUP, EWOULDBLOCK,
 * EDEADLOCK); -1 if unknown. */
int tkt_errno_value(const char *name);

/* Is e in `list`, a comma-separated list of errno names, or is list "any"?
 * Unknown names never match (tkt_errno_list_valid checks them first). */
int tkt_errno_listed(const char *list, int e);

/* 1 if `list` is "any" or only names tkt_errno_value knows, else 0. */
int tkt_errno_list_valid(const char *list);

/* Parse an unsigned number in `base` no larger than max, the whole string.
 * 0 and *ret, or -EINVAL. */
int tkt_parse_ulong(const char *s, int base, unsigned long max, unsigned long *ret);

/* Parse --flags: hexadecimal (the old form, "80") or a comma-separated
 * list of flag names from common/flags.h ("no-cache-read,no-local-cert").
 * 0 and *ret_flags, or -EINVAL. */
int tkt_flags_parse(const char *s, int *ret_flags);

/* ---- tkt-net.c: sockets ------------------------------------------------ */

/* Connect a socket of `type` (SOCK_SEQPACKET, SOCK_STREAM) to the UNIX
 * socket at path.  The descriptor (close-on-exec), or -1 with errno. */
int tkt_unix_connect(const char *path, int type);

/* "127.0.0.1:PORT" as an address; dies on anything else. */
struct sockaddr_in tkt_addr4(const char *spec);

/* A connected TCP socket to a; dies on failure. */
int tkt_tcp_connect4(const struct sockaddr_in *a);

/* A TCP listener on 127.0.0.1, any port, with `backlog`; rcvbuf > 0 sets
 * SO_RCVBUF first (accepted sockets inherit it).  Its address in
 * *ret_addr.  Dies on failure. */
int tkt_listener4(int rcvbuf, int backlog, struct sockaddr_in *ret_addr);

/* Write the port lsock is bound to ("PORT\n") to path, atomically and
 * never over anything but a regular file (tk_file_replace: the tests run
 * as root).  Dies on failure. */
void tkt_port_file_write(const char *path, int lsock);

/* Set O_NONBLOCK.  0, or -1 with errno. */
int tkt_nonblock_set(int fd);

/* ---- tkt-wire.c: raw protocol messages --------------------------------- */

/* Encode a valid START request (client role, TCP, `myname`) into buf.
 * Returns its length; dies if it does not fit. */
size_t tkt_start_msg(uint8_t *buf, size_t cap, const char *myname);

#endif
