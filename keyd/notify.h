/* Service manager notification (sd_notify) that says so when it fails. */
#ifndef TLSKEY_KEYD_NOTIFY_H
#define TLSKEY_KEYD_NOTIFY_H

/* Send state (READY=1, STATUS=..., WATCHDOG=1) to $NOTIFY_SOCKET.  No-op
 * without it.  The first failure is logged as an error naming the socket
 * and the errno, once per process: the manager will then not see READY=1
 * (Type=notify units time out) nor the watchdog.  Accept thread only. */
void keyd_notify(const char *state);

/* The same with printf formatting (at most 1023 bytes: longer is cut). */
void keyd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
