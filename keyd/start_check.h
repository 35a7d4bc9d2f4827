/* The checks of a START request before any look-up (keyd/start_check.c). */
#ifndef TLSKEY_KEYD_START_CHECK_H
#define TLSKEY_KEYD_START_CHECK_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/wire.h"

/* Admission decision on the wire fields of a START request alone (role,
 * protocol, flags and the roles they apply to, names, timers, SNI and
 * ALPN options).  Pure.  Returns 0, or a negative errno (-EINVAL,
 * -EPROTONOSUPPORT) with the reason in why. */
int start_check_request(const struct tk_msg *m, char *why, size_t len);

/* Is fd a connected socket of the kind proto (IPPROTO_TCP: stream,
 * IPPROTO_UDP: datagram) needs?  Returns 0 with its peer's address in
 * *ret_peer, or -ENOTSOCK, -EPROTOTYPE, -EPROTONOSUPPORT, -ENOTCONN with
 * the reason in why. */
int start_check_fd(int fd, int proto, struct sockaddr_storage *ret_peer, char *why, size_t len);

/* Take back every option of the caller's socket fd that could make a
 * daemon call on it block or stall (SO_LINGER off, SO_RCVLOWAT 1,
 * O_NONBLOCK, no O_ASYNC).  Errors are ignored: a descriptor that is no
 * socket is refused by start_check_fd().  Does not close fd. */
void start_take_options(int fd);

#endif
