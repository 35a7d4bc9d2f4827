/* TLS 1.3 KeyUpdate of a relayed session (keyd/keyupdate.c): asked for by
 * tlskey_control() or due by key-update-bytes / key-update-seconds.  Runs
 * on the worker that owns the conn. */
#ifndef TLSKEY_KEYD_KEYUPDATE_H
#define TLSKEY_KEYD_KEYUPDATE_H

#include "keyd/conn.h"

/* 0 if c's session can do a KeyUpdate (TLS 1.3 over TCP), else
 * -EOPNOTSUPP. */
int keyupdate_possible(const struct conn *c);

/* Ask for a KeyUpdate on c: it is sent at the next record boundary
 * (keyupdate_flush()).  -EOPNOTSUPP as above, -ENOTCONN once our
 * close_notify is out. */
int keyupdate_request(struct conn *c);

/* Count n plaintext bytes moved on c and mark a KeyUpdate due when the
 * generation's key-update-bytes or key-update-seconds say so. */
void keyupdate_account(struct conn *c, size_t n);

/* A KeyUpdate asked for within the gap becomes due once the gap has
 * passed: called before each read from the app, so that what it reads
 * goes out under the new keys. */
void keyupdate_poll(struct conn *c);

/* Send the due KeyUpdate (c->ku_pending), asking the peer to update its
 * keys too.  Call only with no record half sent.  0 when sent (or none
 * due), -EAGAIN when the socket is full (still pending: wait for
 * EPOLLOUT), or -EIO on a TLS error. */
int keyupdate_flush(struct conn *c);

#endif
