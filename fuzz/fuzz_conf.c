/* libFuzzer harness: the daemon configuration parser (keyd/conf.c). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "keyd/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyd_conf *c = NULL;
	char err[256];

	if (keyd_conf_parse("fuzz", (const char *)data, size, &c, err, sizeof(err)) == 0)
		keyd_conf_free(c);
	return 0;
}
