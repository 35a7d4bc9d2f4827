/* The client role's session cache (keyd/scache.c): TLS 1.3 sessions the
 * daemon got from remote servers, for resuming with them later. */
#ifndef TLSKEY_KEYD_SCACHE_H
#define TLSKEY_KEYD_SCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>

/* Largest session kept (GnuTLS's packed session, with the server's
 * certificate chain): a bigger one is not cached. */
#define SCACHE_DATA_MAX 16384

/* A fixed number of slots, each one session (at most SCACHE_DATA_MAX
 * bytes) under a 32-byte key, for at most ttl_s seconds.  A new entry
 * replaces whatever held its slot.  Thread-safe; the lock is held only to
 * copy.  Session data holds the resumption secret: wiped when replaced,
 * taken or freed. */
struct scache;

/* n slots (1 to 16384), entries valid ttl_s seconds.  Returns 0 or -ENOMEM. */
int scache_new(size_t n, unsigned ttl_s, struct scache **ret_s);

/* Wipe and free s; NULL ok. */
void scache_free(struct scache *s);

/* Keep a copy of data under key (nothing if it is empty or too big, or
 * out of memory: a cache may forget). */
void scache_put(struct scache *s, const uint8_t key[32], const gnutls_datum_t *data);

/* Take the entry under key out of s (a session is offered once).
 * Returns 0 and *ret_data (the caller wipes and frees it with
 * scache_datum_free), or -ENOENT (none, or expired). */
int scache_take(struct scache *s, const uint8_t key[32], gnutls_datum_t *ret_data);

/* Wipe and free what scache_take() returned. */
void scache_datum_free(gnutls_datum_t *d);

#endif
