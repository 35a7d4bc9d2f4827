/* no-pidfd: run a program as if on a kernel without SO_PEERPIDFD (Linux
 * < 6.5, Debian 12's 6.1) and without a usable pidfd_send_signal, to test
 * the daemon's fallback for real on a newer kernel.
 *
 *   no-pidfd PROGRAM [ARGS...]
 *
 * Installs a seccomp filter (raw BPF; no libseccomp) that makes
 * getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, ...) fail with ENOPROTOOPT and
 * pidfd_send_signal() fail with ENOSYS, and allows everything else, then
 * execs PROGRAM.  The filter is inherited by everything PROGRAM runs. */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define ARCH AUDIT_ARCH_I386
#else
#error "no-pidfd: add this architecture's AUDIT_ARCH_ value"
#endif

#define ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(__u64))

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		/* Another architecture's calling convention (x32, compat): the
		 * numbers below would mean other calls there.  Refuse outright. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_send_signal, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockopt, 0, 5),
		/* level and optname are ints: the low 32 bits of args[1], args[2]
		 * (little-endian: the low half comes first). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_PEERPIDFD, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOPROTOOPT & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = (unsigned short)(sizeof(f) / sizeof(f[0])), .filter = f };

	_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ARG_LO assumes little-endian");
	if (argc < 2) {
		(void)fprintf(stderr, "usage: no-pidfd PROGRAM [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		(void)fprintf(stderr, "no-pidfd: cannot install the seccomp filter: %s\n",
			      strerror(errno));
		return 77; /* the test cannot run here: skip */
	}
	execv(argv[1], argv + 1);
	(void)fprintf(stderr, "no-pidfd: exec %s: %s\n", argv[1], strerror(errno));
	return 127;
}
