/* libFuzzer harness: the PKCS#11 URI / PIN splitter (pkcs11/p11_pin.c,
 * p11_uri_split_pin), which takes key and certificate URIs from the
 * configuration apart into the URI without pin-value/pin-source and the
 * decoded pin-source path.  Checks the contract as well as memory safety:
 * outputs written only on success, and the stripped URI never carries a
 * pin attribute. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkcs11/p11_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_pin_attr(const char *a, size_t len)
{
	static const char *const names[] = { "pin-value", "pin-source", "pinfile" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (len >= n && strncasecmp(a, names[i], n) == 0 && (len == n || a[n] == '='))
			return 1;
	}
	return 0;
}

/* Does the stripped URI still hold a pin attribute?  Read with RFC 7512's
 * grammar, as p11-kit reads it: path attributes split by ';' up to '?',
 * query attributes split by '&'. */
static int has_pin_attr(const char *uri)
{
	const char *p = uri + 7;
	int in_query = 0;

	while (*p) {
		size_t len = strcspn(p, in_query ? "&" : ";?");

		if (is_pin_attr(p, len))
			return 1;
		p += len;
		if (*p == '?')
			in_query = 1;
		if (*p)
			p++;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *uri = (char *)1, *source = (char *)1;
	int had = -1, r;

	/* A C string, as the configuration parser hands it over. */
	in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	r = p11_uri_split_pin(in, &uri, &source, &had);
	if (r == 0) {
		if (!uri || strncmp(uri, "pkcs11:", 7) != 0 || (had != 0 && had != 1))
			abort();
		if (has_pin_attr(uri))
			abort();
		if (source && source[0] != '/')
			abort(); /* only absolute local paths are handed on */
		free(uri);
		free(source);
	} else {
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (uri != (char *)1 || source != (char *)1 || had != -1)
			abort(); /* ret_ parameters are written only on success */
	}
	free(in);
	return 0;
}
