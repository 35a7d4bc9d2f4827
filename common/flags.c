#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/flags.h"
#include "tlskey/starttls.h"

const struct tk_flag_name tk_flag_names[TK_FLAG_NAMES_N] = {
	{ "no-require-peer-cert", TLSKEY_FLAG_NO_REQUIRE_PEER_CERT },
	{ "no-request-peer-cert", TLSKEY_FLAG_NO_REQUEST_PEER_CERT },
	{ "no-local-cert", TLSKEY_FLAG_NO_LOCAL_CERT },
	{ "no-remote-user-id", TLSKEY_FLAG_NO_REMOTE_USER_ID },
	{ "no-remote-domain-id", TLSKEY_FLAG_NO_REMOTE_DOMAIN_ID },
	{ "no-cache-read", TLSKEY_FLAG_NO_CACHE_READ },
	{ "no-cache-write", TLSKEY_FLAG_NO_CACHE_WRITE },
	{ "skip-authorization", TLSKEY_FLAG_SKIP_AUTHORIZATION },
};

_Static_assert(TLSKEY_FLAGS_ALL == 0xff, "a new TLSKEY_FLAG_* needs a name in tk_flag_names");

uint32_t tk_flag_bit(const char *name)
{
	for (size_t i = 0; i < TK_FLAG_NAMES_N; i++)
		if (!strcmp(name, tk_flag_names[i].name))
			return tk_flag_names[i].bit;
	return 0;
}

const char *tk_flag_name(uint32_t bit)
{
	for (size_t i = 0; i < TK_FLAG_NAMES_N; i++)
		if (tk_flag_names[i].bit == bit)
			return tk_flag_names[i].name;
	return NULL;
}

int tk_flags_parse(const char *s, uint32_t *ret_flags)
{
	uint32_t flags = 0;
	const char *p = s;

	if (!strcmp(s, "0") || !strcmp(s, "none")) {
		*ret_flags = 0;
		return 0;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char item[32];
		uint32_t bit;

		if (n == 0 || n >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		bit = tk_flag_bit(item);
		if (!bit || (flags & bit))
			return -EINVAL;
		flags |= bit;
		if (!end)
			break;
		p = end + 1;
	}
	*ret_flags = flags;
	return 0;
}

size_t tk_flags_format(uint32_t flags, char *buf, size_t len)
{
	size_t out = 0;
	uint32_t rest = flags;

	if (len)
		buf[0] = '\0';
	if (!flags)
		return (size_t)snprintf(buf, len, "none");
	for (size_t i = 0; i < TK_FLAG_NAMES_N; i++) {
		if (!(flags & tk_flag_names[i].bit))
			continue;
		rest &= ~tk_flag_names[i].bit;
		out += (size_t)snprintf(out < len ? buf + out : NULL, out < len ? len - out : 0, "%s%s",
					out ? "," : "", tk_flag_names[i].name);
	}
	if (rest)
		out += (size_t)snprintf(out < len ? buf + out : NULL, out < len ? len - out : 0,
					"%s0x%x", out ? "," : "", rest);
	return out;
}
