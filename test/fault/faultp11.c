/* faultp11: a PKCS#11 module that wraps a real one (SoftHSM in the tests)
 * and injects token faults on demand, so that tests can pull the token out
 * from under a running tlskeyd and put it back.
 *
 *   FAULTP11_MODULE=/path/to/libsofthsm2.so   the real module (required)
 *   FAULTP11_CONTROL=/path/to/control-file     optional; absent = no faults
 *
 * The control file holds "key=value" lines, read again whenever its inode,
 * size, mtime or ctime changes (one stat() per intercepted call):
 *
 *   delay_ms=N   sleep N ms before every C_Sign that produces a signature
 *                (not before the length query GnuTLS makes first), i.e.
 *                once per signature: a slow HSM
 *   fail=NAME    NAME is CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID,
 *                CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT or none:
 *                - every C_Sign returns NAME;
 *                - for CKR_DEVICE_REMOVED and CKR_TOKEN_NOT_PRESENT the
 *                  token is gone: C_GetSlotList(tokenPresent=TRUE) lists no
 *                  slot, C_GetSlotInfo clears CKF_TOKEN_PRESENT,
 *                  C_GetTokenInfo and C_OpenSession return
 *                  CKR_TOKEN_NOT_PRESENT, C_Login and C_SignInit return NAME.
 *   exhaust_fds=WHERE   WHERE is sign, open or none: every C_Sign that
 *                produces a signature (sign) or every C_OpenSession (open)
 *                first takes all the descriptors the process has left
 *                (dup() until EMFILE), holds them for exhaust_ms, and
 *                returns CKR_GENERAL_ERROR, as a module that cannot open
 *                its own files does; a call while they are held just
 *                fails
 *   exhaust_ms=N how long the descriptors are held (default 1000)
 *
 * Write the file atomically (write a temporary file, rename it over the
 * old one): a new inode is always noticed, even within one mtime tick.
 *
 * Every other function goes straight to the real module: our function list
 * is a copy of the real one with seven entries replaced.  A failed C_Sign
 * still finishes the real signing operation, so the real session is left
 * in the state PKCS#11 prescribes after a failed C_Sign (no operation
 * active).  The one global state (the parsed control file) is protected by
 * a mutex; all slots of the real module are affected alike. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define FAULT_EXPORT __attribute__((visibility("default")))

/* Scratch space for finishing a real C_Sign we are about to fail: enough
 * for RSA keys up to 65536 bits. */
#define SIG_SCRATCH 8192

enum exhaust_at { EXHAUST_NONE, EXHAUST_SIGN, EXHAUST_OPEN };

struct fault_state {
	unsigned delay_ms;
	CK_RV fail; /* CKR_OK: no fault */
	enum exhaust_at exhaust;
	unsigned exhaust_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST *real;     /* the wrapped module, protected by lock while loading */
static CK_FUNCTION_LIST wrapped;   /* what we hand out */
static struct fault_state current; /* protected by lock */
static struct stat seen;           /* control file as last read; st_ino 0 = none */

static const struct {
	const char *name;
	CK_RV rv;
} faults[] = {
	{ "none", CKR_OK },
	{ "CKR_DEVICE_ERROR", CKR_DEVICE_ERROR },
	{ "CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID },
	{ "CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED },
	{ "CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT },
};

static void parse_line(const char *line, struct fault_state *st)
{
	char key[32], val[64];

	if (sscanf(line, " %31[a-z_] = %63s", key, val) != 2)
		return;
	if (strcmp(key, "delay_ms") == 0) {
		char *end;
		unsigned long v = strtoul(val, &end, 10);

		if (*end == '\0' && v <= 60000)
			st->delay_ms = (unsigned)v;
	} else if (strcmp(key, "exhaust_ms") == 0) {
		char *end;
		unsigned long v = strtoul(val, &end, 10);

		if (*end == '\0' && v <= 60000)
			st->exhaust_ms = (unsigned)v;
	} else if (strcmp(key, "exhaust_fds") == 0) {
		if (strcmp(val, "sign") == 0)
			st->exhaust = EXHAUST_SIGN;
		else if (strcmp(val, "open") == 0)
			st->exhaust = EXHAUST_OPEN;
		else if (strcmp(val, "none") == 0)
			st->exhaust = EXHAUST_NONE;
	} else if (strcmp(key, "fail") == 0) {
		for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
			if (strcmp(val, faults[i].name) == 0)
				st->fail = faults[i].rv;
	}
	/* Unknown keys and values are ignored: a test typo then shows up as
	 * "the fault did not happen", which the test notices. */
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The faults in force right now. */
static struct fault_state fault_get(void)
{
	const char *path = getenv("FAULTP11_CONTROL");
	struct fault_state st = { 0, CKR_OK, EXHAUST_NONE, 1000 };
	struct stat now;

	if (!path || !*path)
		return st;
	if (stat(path, &now) < 0)
		memset(&now, 0, sizeof(now));
	pthread_mutex_lock(&lock);
	if (!same_file(&now, &seen)) {
		FILE *f = now.st_ino ? fopen(path, "re") : NULL;
		char line[128];

		if (f) {
			while (fgets(line, sizeof(line), f))
				parse_line(line, &st);
			(void)fclose(f);
		}
		if (f || !now.st_ino) {
			current = st;
			seen = now;
		} /* else (no descriptor to read it with): read it next time */
	}
	st = current;
	pthread_mutex_unlock(&lock);
	return st;
}

static int token_gone(const struct fault_state *st)
{
	return st->fail == CKR_DEVICE_REMOVED || st->fail == CKR_TOKEN_NOT_PRESENT;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The descriptors taken by exhaust(), protected by held_lock. */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static int *held;
static size_t n_held;

static void *release_later(void *arg)
{
	unsigned ms = (unsigned)(unsigned long)arg;

	sleep_ms(ms);
	pthread_mutex_lock(&held_lock);
	for (size_t i = 0; i < n_held; i++)
		(void)close(held[i]);
	free(held);
	held = NULL;
	n_held = 0;
	pthread_mutex_unlock(&held_lock);
	return NULL;
}

/* Take every descriptor the process has left, for ms milliseconds (or,
 * while they are still held, do nothing more). */
static void exhaust(unsigned ms)
{
	pthread_attr_t attr;
	pthread_t t;
	size_t cap = 0;
	int base;

	pthread_mutex_lock(&held_lock);
	if (held) {
		pthread_mutex_unlock(&held_lock);
		return;
	}
	base = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int fd = base; fd >= 0; fd = fcntl(base, F_DUPFD_CLOEXEC, 0)) {
		if (n_held == cap) {
			int *n = realloc(held, (cap ? 2 * cap : 256) * sizeof(*held));

			if (!n) {
				(void)close(fd);
				break;
			}
			held = n;
			cap = cap ? 2 * cap : 256;
		}
		held[n_held++] = fd;
	}
	if (!held)
		held = malloc(sizeof(*held)); /* marks "held" even with none taken */
	pthread_mutex_unlock(&held_lock);
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, release_later, (void *)(unsigned long)ms) != 0)
		(void)release_later((void *)0UL);
	(void)pthread_attr_destroy(&attr);
}

static CK_RV fault_GetSlotList(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count)
{
	struct fault_state st = fault_get();

	if (present && token_gone(&st)) {
		if (!count)
			return CKR_ARGUMENTS_BAD;
		*count = 0;
		return CKR_OK;
	}
	return real->C_GetSlotList(present, list, count);
}

static CK_RV fault_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
	struct fault_state st = fault_get();
	CK_RV rv = real->C_GetSlotInfo(slot, info);

	if (rv == CKR_OK && token_gone(&st))
		info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
	return rv;
}

static CK_RV fault_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
	struct fault_state st = fault_get();

	if (token_gone(&st))
		return CKR_TOKEN_NOT_PRESENT;
	return real->C_GetTokenInfo(slot, info);
}

static CK_RV fault_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
			       CK_SESSION_HANDLE *ret)
{
	struct fault_state st = fault_get();

	if (token_gone(&st))
		return CKR_TOKEN_NOT_PRESENT;
	if (st.exhaust == EXHAUST_OPEN) {
		exhaust(st.exhaust_ms);
		return CKR_GENERAL_ERROR;
	}
	return real->C_OpenSession(slot, flags, app, notify, ret);
}

static CK_RV fault_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
	struct fault_state st = fault_get();

	if (token_gone(&st))
		return st.fail;
	return real->C_Login(s, user, pin, pin_len);
}

static CK_RV fault_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	struct fault_state st = fault_get();

	if (token_gone(&st))
		return st.fail;
	return real->C_SignInit(s, mech, key);
}

static CK_RV fault_Sign(CK_SESSION_HANDLE s, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
			CK_ULONG *sig_len)
{
	struct fault_state st = fault_get();

	if (st.fail != CKR_OK || (sig && st.exhaust == EXHAUST_SIGN)) {
		/* Finish the real operation so the session is clean, then fail. */
		static __thread CK_BYTE scratch[SIG_SCRATCH];
		CK_ULONG n = sizeof(scratch);

		(void)real->C_Sign(s, data, len, scratch, &n);
		if (st.fail != CKR_OK)
			return st.fail;
		exhaust(st.exhaust_ms);
		return CKR_GENERAL_ERROR;
	}
	if (sig && st.delay_ms)
		sleep_ms(st.delay_ms);
	return real->C_Sign(s, data, len, sig, sig_len);
}

/* The entry point p11-kit and GnuTLS look up. */
FAULT_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST **ret)
{
	CK_RV rv = CKR_OK;

	if (!ret)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&lock);
	if (!real) {
		const char *path = getenv("FAULTP11_MODULE");
		CK_C_GetFunctionList get;
		void *h;

		/* The handle stays open for the life of the process: the
		 * function pointers we hand out point into it. */
		h = path && *path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
		get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
		if (!get || get(&real) != CKR_OK || !real) {
			(void)fprintf(stderr, "faultp11: cannot load FAULTP11_MODULE=%s: %s\n",
				      path ? path : "(unset)", h ? "no usable C_GetFunctionList" : dlerror());
			real = NULL;
			rv = CKR_GENERAL_ERROR;
		} else {
			wrapped = *real;
			wrapped.C_GetSlotList = fault_GetSlotList;
			wrapped.C_GetSlotInfo = fault_GetSlotInfo;
			wrapped.C_GetTokenInfo = fault_GetTokenInfo;
			wrapped.C_OpenSession = fault_OpenSession;
			wrapped.C_Login = fault_Login;
			wrapped.C_SignInit = fault_SignInit;
			wrapped.C_Sign = fault_Sign;
		}
	}
	pthread_mutex_unlock(&lock);
	if (rv == CKR_OK)
		*ret = &wrapped;
	return rv;
}
