/* libFuzzer harness: the tlskey-tunnel configuration file parser
 * (tools/tunnel/conf.c, through tunnel_conf_from_argv and --config, the
 * only way in).  The input is the file: a memfd, named by its
 * /proc/self/fd path, so the parser reads it as it reads any regular file. */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tools/tunnel/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tunnel_conf c;
	char path[64];
	char *argv[4];
	int fd, r;

	fd = memfd_create("fuzz-tunnel-conf", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	argv[0] = (char *)"tlskey-tunnel";
	argv[1] = (char *)"--config";
	argv[2] = path;
	argv[3] = NULL;
	r = tunnel_conf_from_argv(3, argv, &c);
	if (r == 0)
		tunnel_conf_free(&c);
	(void)close(fd);
	return 0;
}
