/* The configuration check of `tlskeyd -t` and of every start-up
 * (keyd/check.c): everything the daemon will use is loaded and tried
 * before it binds its socket or tells systemd it is ready. */
#ifndef TLSKEY_KEYD_CHECK_H
#define TLSKEY_KEYD_CHECK_H

#include <stddef.h>

#include "keyd/keyd.h"

struct check_result {
	size_t n_ids;    /* configured identities */
	size_t n_usable; /* of those, passed every check */
	unsigned errors; /* problems that make `tlskeyd -t` fail */
	int anchors_bad; /* the trust anchors failed: no worker could start */
	unsigned warnings;
};

/* Is the PKCS#11 module path a regular file the daemon may trust
 * (tk_file_trusted: it is code the daemon runs)?  NULL path (p11-kit's
 * registry) passes.  Returns 0 or a negative errno, logged. */
int check_module(const char *path);

/* Check what k->conf and load_identities() (main.c: PIN files registered,
 * chains loaded into k->chains) set up: the trust anchors, and for each
 * identity its chain (order, dates: an error when expired or not yet
 * valid, a warning within cert-expiry-warning days), its name (a warning
 * when the certificate does not name it), and its key: token present,
 * login, attributes, and a test signature over a fixed nonce verified with
 * the certificate's public key.  Each problem is logged once, prefixed
 * with "CONF:LINE: identity NAME" where it belongs to an identity.  An
 * unusable identity marked `optional = yes` counts as a warning, any
 * other as an error.  Always fills *ret; returns 0, or -ENOMEM. */
int check_config(struct keyd *k, struct check_result *ret);

/* What the check (keyd/check.c) means for this run.  With -t: print the
 * summary and fail for anything the daemon would refuse or serve without
 * (an unusable identity not marked optional, no usable identity, no
 * trust anchors).  At start-up: refuse, before binding or READY=1, when
 * nothing could be served -- clients would queue for a daemon that cannot
 * serve, and systemd would restart it in a loop; an unusable identity
 * among usable ones is logged and the others are served (its token may
 * come back: keys.c retries).  Returns 0 or -EINVAL. */
int check_verdict(const char *conf_path, const struct check_result *c, int test_only);

#endif
