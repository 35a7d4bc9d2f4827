/* stallfs MOUNTPOINT PID: a FUSE file system (the raw /dev/fuse protocol,
 * no libfuse) with one file, "f", that anyone may open.  A FLUSH (sent by
 * every close() of a descriptor of it) from a thread of process PID is
 * never answered, so that thread waits in close() until this server
 * exits; everyone else's is answered.  Prints "STALL tid=T" for each flush
 * it keeps waiting, "READY" once mounted.  Exits when the connection goes
 * (umount) or on SIGTERM; the kernel then fails the flushes it kept.
 * For test/hostile/fuse-close.sh. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int dev = -1;

static void reply(uint64_t unique, int error, const void *body, size_t len)
{
	char out[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header h = { .len = (uint32_t)(sizeof(h) + len), .error = error,
				     .unique = unique };

	if (len > 256)
		return;
	memcpy(out, &h, sizeof(h));
	if (len)
		memcpy(out + sizeof(h), body, len);
	if (write(dev, out, h.len) < 0 && errno != ENOENT)
		perror("stallfs: write");
}

static void attr_of(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0666;
	a->nlink = 1;
}

/* Is thread tid one of process pid's? */
static int thread_of(unsigned tid, const char *pid)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/%s/task/%u", pid, tid);
	return access(path, F_OK) == 0;
}

int main(int argc, char **argv)
{
	static char buf[FUSE_MIN_READ_BUFFER + 65536];
	char opts[128];

	if (argc != 3) {
		fprintf(stderr, "usage: stallfs MOUNTPOINT PID\n");
		return 2;
	}
	dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		perror("stallfs: /dev/fuse");
		return 77;
	}
	(void)snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", dev);
	if (mount("stallfs", argv[1], "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
		perror("stallfs: mount");
		return 77;
	}
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = read(dev, buf, sizeof(buf));
		const struct fuse_in_header *in = (const void *)buf;
		const char *arg = buf + sizeof(*in);

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < 0)
			return errno == ENODEV ? 0 : 1; /* ENODEV: unmounted */
		if ((size_t)n < sizeof(*in))
			continue;
		switch (in->opcode) {
		case FUSE_INIT: {
			const struct fuse_init_in *ii = (const void *)arg;
			struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
						   .minor = ii->minor < 31 ? ii->minor : 31,
						   .max_readahead = ii->max_readahead,
						   .max_write = 4096 };

			reply(in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e = { .nodeid = 2, .generation = 1 };

			if (strcmp(arg, "f")) {
				reply(in->unique, -ENOENT, NULL, 0);
				break;
			}
			attr_of(&e.attr, 2);
			reply(in->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = { .attr_valid = 0 };

			attr_of(&a.attr, in->nodeid);
			reply(in->unique, 0, &a, sizeof(a));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = 1 };

			reply(in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_FLUSH:
			if (!thread_of(in->pid, argv[2])) {
				reply(in->unique, 0, NULL, 0);
				break;
			}
			printf("STALL tid=%u\n", in->pid);
			fflush(stdout);
			break; /* kept: never answered */
		case FUSE_RELEASE:
			reply(in->unique, 0, NULL, 0);
			break;
		case FUSE_INTERRUPT: /* ignored: the flush stays unanswered */
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
			break;
		default:
			reply(in->unique, -ENOSYS, NULL, 0);
		}
	}
}
