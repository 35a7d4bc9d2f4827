/* libFuzzer harness: the tlskey-tunnel configuration file parser
 * (tools/tunnel/conf.c, through tunnel_conf_from_argv and --config, the
 * only way in).  The input is the file: written to a 0600 file in a
 * private directory (mkdtemp, 0700), since the tunnel judges its
 * configuration file before it reads it (owner, mode, the directories on
 * the way: a memfd, mode 0777, is refused), and removed at exit. */
#define _GNU_SOURCE
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tools/tunnel/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz-tunnel-conf.XXXXXX";
static char path[sizeof(dir) + 16];

static void cleanup(void)
{
	(void)unlink(path);
	(void)rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tunnel_conf c;
	char *argv[4];
	int fd, r;

	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		(void)snprintf(path, sizeof(path), "%s/conf", dir);
		(void)atexit(cleanup);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	(void)close(fd);
	argv[0] = (char *)"tlskey-tunnel";
	argv[1] = (char *)"--config";
	argv[2] = path;
	argv[3] = NULL;
	r = tunnel_conf_from_argv(3, argv, &c);
	if (r == 0)
		tunnel_conf_free(&c);
	return 0;
}
