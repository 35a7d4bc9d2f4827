/* The relay (keyd/relay.c): TLS records <-> the protected descriptor. */
#ifndef TLSKEY_KEYD_RELAY_H
#define TLSKEY_KEYD_RELAY_H

#include <stdint.h>

#include "keyd/conn.h"

/* Start relaying c (state CONN_RELAY): register both descriptors. */
enum conn_status relay_begin(struct conn *c) CONN_MUST_CHECK;
/* An event on one of c's descriptors while it relays or drains. */
enum conn_status relay_event(struct conn *c, struct ev *ev, uint32_t events) CONN_MUST_CHECK;
/* Move what can move app -> TLS now (a KeyUpdate just asked for goes out
 * first) and wait for what comes next.  For SESSION_CTL (wcmd.c). */
enum conn_status relay_kick(struct conn *c) CONN_MUST_CHECK;

/* tlskey_control(CLOSE_NOTIFY): relay what the app has written so far,
 * then close_notify and FIN as if the app had shut down its side. */
enum conn_status relay_stop(struct conn *c) CONN_MUST_CHECK;

#endif
