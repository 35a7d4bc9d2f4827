/* How a relay ends (keyd/relay_end.c): failures, the app's drain, the
 * orderly EOF and the close timer.  Used by keyd/relay.c and worker.c. */
#ifndef TLSKEY_KEYD_RELAY_END_H
#define TLSKEY_KEYD_RELAY_END_H

#include "keyd/conn.h"

/* The application went away (why says how): records the failure, resets
 * the network side without close_notify and closes c.  Always
 * CONN_CLOSED. */
enum conn_status relay_end_app_gone(struct conn *c, const char *why) CONN_MUST_CHECK;
/* The network side failed (why is logged and recorded): the app gets an
 * error, never a clean EOF.  A TCP protected descriptor first drains what
 * it was sent (state CONN_DRAIN, CONN_LIVE until relay_drain_step() ends
 * it); otherwise c is closed. */
enum conn_status relay_end_abort(struct conn *c, const char *why) CONN_MUST_CHECK;
/* The peer's close_notify, after everything before it, becomes EOF for
 * the app (the TCP descriptor's reset-on-close lingering is undone). */
void relay_end_app_eof(struct conn *c);
/* The app shut down its side: arm the close timer (close-timeout of c's
 * generation) unless it runs already or c no longer relays. */
void relay_end_timer_arm(struct conn *c);
/* Write out the decrypted bytes parked for the app (c->to_app), without
 * blocking; once all are taken they are wiped and freed.  CONN_CLOSED if
 * the app is gone (through relay_end_app_gone()). */
enum conn_status relay_end_flush_app(struct conn *c) CONN_MUST_CHECK;

/* A failed relay's next step while the app drains what it was sent (state
 * CONN_DRAIN): flush, then reset the app's descriptor and free c once the
 * app has it all or the drain time is up.  May close c. */
enum conn_status relay_drain_step(struct conn *c) CONN_MUST_CHECK;
/* The close timer of a relay fired (state CONN_RELAY, deadline_ms passed):
 * the application has shut down its side and the peer made no progress
 * for close-timeout.  Resets the network socket and closes c (through
 * relay_end_abort, so the app sees ECONNRESET on a TCP protected
 * descriptor). */
enum conn_status relay_close_expired(struct conn *c) CONN_MUST_CHECK;

#endif
