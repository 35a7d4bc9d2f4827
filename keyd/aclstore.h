/* The ACL store (keyd/aclstore.c). */
#ifndef TLSKEY_KEYD_ACLSTORE_H
#define TLSKEY_KEYD_ACLSTORE_H

#include <stddef.h>
#include <sys/socket.h>

#include "keyd/keyd.h"

/* Load the configured ACL file into k->acl at start-up (warnings logged).
 * No acl file configured: 0 and k->acl stays NULL (everything denied).
 * Returns 0 or the negative errno of acl_load_file() (logged). */
int aclstore_load(struct keyd *k);

/* A reference to the rules in force (NULL if none: deny) and, in
 * *ret_gen, their generation for cache keys.  Thread-safe; the caller
 * owns the reference (acl_unref). */
struct acl *aclstore_current(struct keyd *k, unsigned *ret_gen);

struct gen_errors;

/* Parse the ACL file at path for a reload, nothing published: 0 and
 * *ret_acl (NULL when path is NULL: no ACL, everything denied; warnings
 * logged), or the negative errno of acl_load_file() with its message
 * added to errs. */
int aclstore_parse(const char *path, struct acl **ret_acl, struct gen_errors *errs);

/* Make fresh (owned by the store from now on; NULL: deny everything) the
 * rules in force and bump the generation.  References held by requests
 * and sessions keep the old rules alive. */
void aclstore_publish(struct keyd *k, struct acl *fresh);

/* One audit record for a reload attempt by cred (r: its outcome). */
void aclstore_audit_reload(struct keyd *k, const struct ucred *cred, const char *unit, int r,
			   const char *detail);

#endif
