/* Process-wide hardening of the daemon at start (keyd/process.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "keyd/log.h"
#include "keyd/process.h"

void process_harden(void)
{
	struct rlimit rl = { 0, 0 };

	/* Keys stay on the token, but PINs and session secrets pass through
	 * our memory: no core dumps, no ptrace by same-uid processes. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			keyd_log(LOG_WARNING, "cannot raise the open file limit: %s", strerror(errno));
	}
	umask(077);
}
