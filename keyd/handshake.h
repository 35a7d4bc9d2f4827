/* The TLS handshake engine (keyd/handshake.c).  Every entry point may end
 * c (conn_close) and says so in its result. */
#ifndef TLSKEY_KEYD_HANDSHAKE_H
#define TLSKEY_KEYD_HANDSHAKE_H

#include <stdint.h>

#include "keyd/conn.h"

/* Set up the TLS session of a newly adopted conn and start the handshake. */
enum conn_status handshake_begin(struct conn *c) CONN_MUST_CHECK;

/* Deliver the protected descriptor of c, whose handshake and checks are
 * done (an online OCSP answer came: ocsp_conn.c), with detail for its
 * "established" record, and start relaying. */
enum conn_status handshake_deliver(struct conn *c, const char *detail) CONN_MUST_CHECK;

/* Drive the handshake after an event on the network socket (or a DTLS
 * resend timer); on success delivers the protected descriptor and hands
 * c to the relay. */
enum conn_status handshake_step(struct conn *c) CONN_MUST_CHECK;

/* An event on the caller's control socket during the handshake: an SNI
 * answer, or the caller going away. */
enum conn_status handshake_ctl_event(struct conn *c, uint32_t events) CONN_MUST_CHECK;

/* The handshake timer fired: fail, or keep the connection in cleartext
 * (allow-handshake-timeout). */
enum conn_status handshake_timeout(struct conn *c) CONN_MUST_CHECK;

/* Audit, send a failure result (err, message) to the caller and close c.
 * Always CONN_CLOSED. */
enum conn_status handshake_fail(struct conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
