/* "When the files change": inotify on the directories that hold the CRL
 * files (a file replaced by rename, as tools write them, keeps no watch of
 * its own) and on every crl-dir; a change plans one ordinary reload. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/util.h"
#include "keyd/aclstore.h"
#include "keyd/gen.h"
#include "keyd/log.h"
#include "keyd/reload.h"
#include "keyd/watch.h"

/* Only directories nobody else may write are watched: tk_file_trusted()
 * judges the directories above every crl-file and crl-dir (a sticky one
 * excepted, where others may still add names and so cause a reload, and
 * its log lines, once a second). */
#define WATCH_MAX 64           /* directories watched */
#define WATCH_QUIET_MS 200     /* the files must be quiet this long */
#define WATCH_MIN_GAP_MS 1000  /* between two reloads of ours */
/* A change waits no longer than this for quiet: whoever keeps writing in a
 * watched directory (a crl-dir others can write, a tool that touches its
 * files in a loop) must not hold a new CRL back for as long as it writes. */
#define WATCH_MAX_DEFER_MS 2000
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)

struct watch_dir {
	int wd;
	int whole;       /* a crl-dir: every name counts */
	char dir[4096];
	char names[8][256]; /* crl-file basenames in it */
	unsigned n_names;
};

struct watch {
	int fd;
	unsigned serial; /* generation the watches are for, 0 none */
	struct watch_dir d[WATCH_MAX];
	unsigned n;
	unsigned long long due_ms, last_ms; /* planned reload (0 none), the last one */
	unsigned long long first_ms; /* the first change since the last reload */
};

int watch_new(struct watch **ret)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int r = -errno;

		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

int watch_fd(const struct watch *w)
{
	return w->fd;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	(void)close(w->fd);
	free(w);
}

/* Watch dir (whole: a crl-dir) for name (a crl-file's basename, or NULL). */
static void watch_add(struct watch *w, const char *dir, size_t dlen, const char *name, int whole)
{
	struct watch_dir *d = NULL;
	int wd;

	for (unsigned i = 0; i < w->n && !d; i++)
		if (strlen(w->d[i].dir) == dlen && !strncmp(w->d[i].dir, dir, dlen))
			d = &w->d[i];
	if (!d) {
		if (w->n >= WATCH_MAX || dlen >= sizeof(d->dir)) {
			keyd_log(LOG_WARNING, "cannot watch %.*s for CRL changes: more than %d directories "
				 "or too long a name (reload by hand)", (int)(dlen < 4096 ? dlen : 4096), dir,
				 WATCH_MAX);
			return;
		}
		d = &w->d[w->n];
		memset(d, 0, sizeof(*d));
		memcpy(d->dir, dir, dlen);
		wd = inotify_add_watch(w->fd, d->dir, WATCH_MASK | IN_ONLYDIR);
		if (wd < 0) {
			keyd_log(LOG_WARNING, "cannot watch %s for CRL changes: %s (reload by hand)", d->dir,
				 strerror(errno));
			return;
		}
		d->wd = wd;
		w->n++;
	}
	d->whole |= whole;
	/* No room for another name (or no room for it whole): every change
	 * in the directory counts then, more reloads but none missed. */
	if (name && (d->n_names == 8 || strlen(name) >= sizeof(d->names[0])))
		d->whole = 1;
	else if (name)
		(void)snprintf(d->names[d->n_names++], sizeof(d->names[0]), "%s", name);
}

static void watch_trust(struct watch *w, const struct keyd_trustconf *t)
{
	if (t->crl_file) {
		const char *slash = strrchr(t->crl_file, '/');

		watch_add(w, t->crl_file, slash == t->crl_file ? 1 : (size_t)(slash - t->crl_file),
			  slash + 1, 0);
	}
	if (t->crl_dir)
		watch_add(w, t->crl_dir, strlen(t->crl_dir), NULL, 1);
}

/* The watches for the CRLs of g, replacing the old ones. */
static void watch_rebuild(struct watch *w, const struct keyd_gen *g)
{
	for (unsigned i = 0; i < w->n; i++)
		(void)inotify_rm_watch(w->fd, w->d[i].wd);
	w->n = 0;
	watch_trust(w, &g->conf->trust);
	for (size_t i = 0; i < g->conf->n_ids; i++)
		watch_trust(w, &g->conf->ids[i].trust);
	w->serial = g->serial;
}

static int watch_concerns(const struct watch *w, const struct inotify_event *ev)
{
	for (unsigned i = 0; i < w->n; i++) {
		const struct watch_dir *d = &w->d[i];

		if (d->wd != ev->wd)
			continue;
		if (d->whole)
			return 1;
		for (unsigned j = 0; ev->len && j < d->n_names; j++)
			if (!strcmp(d->names[j], ev->name))
				return 1;
	}
	return 0;
}

void watch_readable(struct watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int hit = 0;

	/* Bounded: at most 16 reads per wake-up, the rest next time. */
	for (int round = 0; round < 16 && (n = read(w->fd, buf, sizeof(buf))) > 0; round++) {
		for (char *p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			hit |= (ev->mask & IN_Q_OVERFLOW) || watch_concerns(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (hit) {
		unsigned long long now = tk_now_ms();

		if (!w->due_ms)
			w->first_ms = now;
		w->due_ms = now + WATCH_QUIET_MS; /* again quiet from now on */
		if (w->due_ms > w->first_ms + WATCH_MAX_DEFER_MS)
			w->due_ms = w->first_ms + WATCH_MAX_DEFER_MS;
	}
}

int watch_timeout(const struct watch *w, unsigned long long now_ms)
{
	unsigned long long at;

	if (!w || !w->due_ms)
		return -1;
	at = w->due_ms > w->last_ms + WATCH_MIN_GAP_MS ? w->due_ms : w->last_ms + WATCH_MIN_GAP_MS;
	return at <= now_ms ? 0 : (int)(at - now_ms);
}

void watch_step(struct watch *w, struct keyd *k, unsigned long long now_ms)
{
	struct ucred self;
	char msg[1024];
	int r;

	if (!w)
		return;
	if (k->gen && k->gen->serial != w->serial)
		watch_rebuild(w, k->gen);
	if (watch_timeout(w, now_ms) != 0)
		return;
	w->due_ms = 0;
	w->last_ms = now_ms;
	self = (struct ucred){ .pid = getpid(), .uid = geteuid(), .gid = getegid() };
	keyd_log(LOG_NOTICE, "a CRL file changed: reloading");
	r = reload_run(k, msg, sizeof(msg));
	aclstore_audit_reload(k, &self, NULL, r, msg);
	/* A failed reload keeps the old generation: watch what it names. */
	if (k->gen && k->gen->serial != w->serial)
		watch_rebuild(w, k->gen);
}
