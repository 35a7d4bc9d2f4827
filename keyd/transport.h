/* The GnuTLS transport of a connection's handshake on the caller's socket
 * (the relay replaces it with keyd/relay_io.c's once established). */
#ifndef TLSKEY_KEYD_TRANSPORT_H
#define TLSKEY_KEYD_TRANSPORT_H

#include "keyd/conn.h"

/* Make c->tls read and write c->net.fd without ever blocking (every call
 * passes MSG_DONTWAIT), counting the bytes read in c->hs_bytes_in. */
void transport_attach(struct conn *c);

/* Whether errno e from a connected UDP socket comes from the network (an
 * ICMP message: port or host unreachable, fragmentation needed, ...)
 * rather than from our own use of the socket. */
int transport_net_error(int e);

/* Empty fd's error queue (bounded): where the app set IP_RECVERR, every
 * ICMP message also waits there and keeps EPOLLERR asserted. */
void transport_drain_errqueue(int fd);

#endif
