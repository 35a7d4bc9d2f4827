/* Server name lists for virtual hosting (common/namelist.c): the myname of
 * a server-role request may be one identity, or a comma-separated list
 * of host names and "*.domain" patterns (doc/api.md, "Virtual hosting").
 * Shared by the library (argument check) and the daemon (admission and
 * the choice by SNI), so that both read a list the same way. */
#ifndef TLSKEY_COMMON_NAMELIST_H
#define TLSKEY_COMMON_NAMELIST_H

#include <stddef.h>

/* At most this many entries in one list. */
#define TK_NAMELIST_MAX 16u

/* 1 if spec (NUL-terminated) is a list or a pattern rather than one
 * identity: it holds a ',' or a '*'.  0 otherwise (also for NULL). */
int tk_namelist_is_multi(const char *spec);

/* Check a list: 1 to TK_NAMELIST_MAX entries separated by single commas,
 * no spaces, each a host name (a valid identity without '@') or
 * "*.domain" (a host name after "*.").  Returns 0 or -EINVAL. */
int tk_namelist_validate(const char *spec);

/* Entry i (0-based) of a valid list into ret (len bytes, NUL-terminated).
 * Returns 0, -ENOENT if the list has no entry i, -ERANGE if it does not
 * fit (ret untouched on failure). */
int tk_namelist_entry(const char *spec, size_t i, char *ret, size_t len);

/* How entry (one list entry) covers the host name name: 2 if they are the
 * same name (tk_identity_equal), 1 if entry is "*.domain" and name lies
 * strictly below domain (one or more whole labels in front of ".domain",
 * domain compared case-insensitively, as ACL patterns do), 0 otherwise. */
int tk_namelist_entry_match(const char *entry, const char *name);

#endif
