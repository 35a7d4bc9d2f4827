/* The protected descriptor (keyd/appsock.c). */
#ifndef TLSKEY_KEYD_APPSOCK_H
#define TLSKEY_KEYD_APPSOCK_H

#include <stddef.h>

#include "keyd/conf.h"

/* ret_sv[0] (non-blocking) stays
 * with the daemon, ret_sv[1] goes to the application, both owned by the
 * caller; *ret_tcp says whether it is a loopback TCP connection (which can
 * carry a reset) or a UNIX pair.  Written only on success; returns 0 or a
 * negative errno, with an explanation for the caller in why: -EAGAIN when
 * no loopback TCP connection can be made and protected-socket-fallback is
 * refuse.  The daemon's end of a TCP pair resets on close until
 * appsock_orderly() is called on it. */
int appsock_pair(const struct keyd_conf *conf, int dtls, int ret_sv[2], int *ret_tcp, char *why,
		 size_t whylen);
/* Make the next close() of a TCP socket send a reset, not a FIN. */
void appsock_reset(int fd);
/* Undo appsock_reset(): the stream ends in order (FIN), close() does not
 * block either. */
void appsock_orderly(int fd);
/* Bytes written to fd that the other end has not received yet. */
size_t appsock_unsent(int fd);

#endif
