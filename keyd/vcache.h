/* Cache of peer validation and authorization results.  Bounded (a fixed
 * number of slots in sets of 4: a key takes any slot of its set, a full
 * set gives up its oldest entry), entries expire after a TTL, and the key
 * covers everything the result depends on -- the peer's whole certificate
 * chain, the role, the expected server name, the local identity, the
 * identity-kind flags and the ACL generation -- so a changed certificate
 * or a reloaded ACL never hits a stale entry.  Thread-safe. */
#ifndef TLSKEY_KEYD_VCACHE_H
#define TLSKEY_KEYD_VCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

#define VCACHE_KEY_LEN 32

struct vcache;

struct vcache_value {
	char peer[TK_ID_MAX + 1];
	char mapped_user[TK_SHORT_MAX + 1];
	/* How the chain was accepted, which decides what else is asked
	 * (online OCSP asks nobody about a pinned or a DANE-TA/EE peer):
	 * conn's pinned and dane_usage. */
	uint8_t pinned;
	uint8_t dane_usage;
};

/* slots == 0 or ttl_s == 0 disables the cache (every lookup misses). */
int vcache_new(size_t slots, unsigned ttl_s, struct vcache **ret);
void vcache_free(struct vcache *vc);

/* 0 and *ret on a fresh hit, -ENOENT otherwise. */
int vcache_get(struct vcache *vc, const uint8_t key[VCACHE_KEY_LEN], struct vcache_value *ret);
void vcache_put(struct vcache *vc, const uint8_t key[VCACHE_KEY_LEN], const struct vcache_value *v);

#endif
