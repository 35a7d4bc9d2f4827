/* The names of the TLSKEY_FLAG_* bits, in one table for everything that
 * reads or prints them: the ACL parser and formatter, tlskeyctl, the
 * tunnel's options, the audit log and the tests. */
#ifndef TLSKEY_COMMON_FLAGS_H
#define TLSKEY_COMMON_FLAGS_H

#include <stddef.h>
#include <stdint.h>

struct tk_flag_name {
	const char *name; /* "no-cache-read" */
	uint32_t bit;     /* TLSKEY_FLAG_NO_CACHE_READ */
};

/* Every flag, in bit order; TK_FLAG_NAMES_N entries. */
extern const struct tk_flag_name tk_flag_names[];
#define TK_FLAG_NAMES_N 8

/* The bit of one flag name; 0 if the name is unknown. */
uint32_t tk_flag_bit(const char *name);

/* The name of one bit; NULL if it is not exactly one known flag. */
const char *tk_flag_name(uint32_t bit);

/* Parse a comma-separated list of names ("no-cache-read,no-local-cert"),
 * "0" or "none" for no flag.  Returns 0 and *ret_flags, or -EINVAL
 * (unknown or repeated name, empty item). */
int tk_flags_parse(const char *s, uint32_t *ret_flags);

/* Print flags as a comma-separated list of names ("none" for 0; unknown
 * bits as one "0x..." item).  Returns the length it needed (like
 * snprintf: the output is cut, NUL-terminated, when len is too small). */
size_t tk_flags_format(uint32_t flags, char *buf, size_t len);

#endif
