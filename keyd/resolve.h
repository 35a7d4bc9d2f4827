/* A name lookup bounded by a deadline, for the OCSP client: getaddrinfo()
 * itself waits as long as the resolver (or an NSS module) does. */
#ifndef TLSKEY_KEYD_RESOLVE_H
#define TLSKEY_KEYD_RESOLVE_H

#include <netdb.h>

/* Resolve host and port (numeric or a service name) like getaddrinfo()
 * with hints, giving up at deadline (tk_now_ms() clock).  0 and *res
 * (freeaddrinfo() it), -ETIMEDOUT, or -EHOSTUNREACH (the name does not
 * resolve; EAI_* text in why).  Thread-safe. */
int tk_resolve(const char *host, const char *port, const struct addrinfo *hints,
	       unsigned long long deadline, struct addrinfo **res, char *why, size_t whylen);

#endif
