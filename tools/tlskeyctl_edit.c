/* tlskeyctl acl add | remove: edits of the ACL file that are validated as
 * a whole before anything is written, serialised between concurrent
 * tlskeyctl runs, and atomic for the daemon.
 *
 * An edit: take an exclusive flock() on "ACL.lock" next to the file (not
 * on the ACL itself, which the rename replaces), read the file, change the
 * bytes, parse the result with acl_load_buffer(), write it to a fresh
 * temporary file in the same directory (same mode and owner), fsync it,
 * rename it over the ACL, fsync the directory.  Any failure before the
 * rename leaves the old file as it was.
 *
 * XXX: the lock only orders tlskeyctl runs.  An editor working on the file
 * meanwhile is detected (the file changed under us: the edit is refused),
 * not prevented. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/util.h"
#include "tools/tlskeyctl.h"

/* How long to wait for another tlskeyctl to finish its edit. */
#define LOCK_WAIT_MS 10000

/* Mode of an ACL file created by "acl add": readable, writable by root only. */
#define NEW_ACL_MODE 0644

struct edit {
	char *path;     /* the ACL, symlinks resolved */
	char *dir;      /* its directory */
	int lock_fd;
	int exists;     /* the file existed when read */
	struct stat st; /* of the file we read */
	char *buf;      /* its contents */
	size_t len;
};

static void edit_end(struct edit *e)
{
	if (!e)
		return;
	/* Closing the lock file releases the lock. */
	(void)tk_close(e->lock_fd);
	free(e->path);
	free(e->dir);
	tk_file_free(e->buf, e->len);
	memset(e, 0, sizeof(*e));
	e->lock_fd = -1;
}

/* Resolve path (which may not exist yet) to an absolute name without
 * symlinks, so that every spelling locks and replaces the same file. */
static int resolve_path(const char *path, char **ret_path, char **ret_dir)
{
	char *copy = NULL, *copy2 = NULL, *dir = NULL, *full = NULL;
	const char *base;
	int r = 0;

	full = realpath(path, NULL);
	if (!full && errno != ENOENT)
		return -errno;
	if (!full) {
		copy = strdup(path);
		copy2 = strdup(path);
		if (!copy || !copy2) {
			r = -ENOMEM;
			goto out;
		}
		dir = realpath(dirname(copy), NULL);
		if (!dir) {
			r = -errno;
			goto out;
		}
		base = basename(copy2);
		if (asprintf(&full, "%s/%s", strcmp(dir, "/") ? dir : "", base) < 0) {
			full = NULL;
			r = -ENOMEM;
			goto out;
		}
		free(dir);
		dir = NULL;
	}
	free(copy);
	copy = strdup(full);
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	dir = strdup(dirname(copy));
	if (!dir) {
		r = -ENOMEM;
		goto out;
	}
	*ret_path = full; /* both now the caller's */
	*ret_dir = dir;
	full = dir = NULL;
out:
	free(copy);
	free(copy2);
	free(full);
	free(dir);
	return r;
}

static int lock_acquire(const char *path, int *ret_fd)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char *lock_path = NULL;
	int fd = -1, r = 0;

	if (asprintf(&lock_path, "%s.lock", path) < 0) {
		ctl_err("out of memory");
		return -ENOMEM;
	}
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		ctl_err("%s: cannot create the lock file: %s", lock_path, strerror(errno));
		goto out;
	}
	/* Bounded: a hung tlskeyctl must not hang every later one. */
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = -errno;
			ctl_err("%s: flock: %s", lock_path, strerror(errno));
			goto out;
		}
		if (waited >= LOCK_WAIT_MS) {
			r = -EBUSY;
			ctl_err("%s: still locked by another tlskeyctl after %d s", lock_path,
				LOCK_WAIT_MS / 1000);
			goto out;
		}
		(void)nanosleep(&pause, NULL);
	}
	*ret_fd = fd; /* now the caller's */
	fd = -1;
out:
	(void)tk_close(fd);
	free(lock_path);
	return r;
}

/* Read the whole file (at most ACL_FILE_MAX bytes; one that grows past
 * it while read is refused); a missing file reads as empty.  A FIFO or
 * device planted there neither hangs us nor is read (tk_file_read). */
static int read_acl(struct edit *e)
{
	char err[CTL_LINE_MAX];
	int r;

	r = tk_file_read("ACL file", e->path, ACL_FILE_MAX, 0, &e->buf, &e->len, &e->st, err,
			 sizeof(err));
	if (r == -ENOENT) {
		/* An empty buffer, not NULL: the editors memcpy() from it. */
		e->buf = calloc(1, 1);
		e->len = 0;
		return e->buf ? 0 : -ENOMEM;
	}
	if (r < 0) {
		ctl_err("%s", r == -ENOMEM ? "out of memory" : err);
		return r == -EINVAL ? -EPERM : r; /* not a regular file: as before */
	}
	e->exists = 1;
	return 0;
}

/* An edit writes where path leads (a link is edited at its target): only
 * if nobody but root and us may redirect it, as tlskeyd judges the ACL it
 * reads (tk_file_trusted(): the file, and every directory holding a name
 * on the way).  Else whoever may write one of those directories could
 * point a root "acl add" at another file.  A new ACL: its directory.
 * Judged twice: before the lock (no lock file is made where it may not be
 * trusted) and, finally, under it.  Before it, another tlskeyctl's rename
 * may replace the file between our stat() and the walk; that is no
 * reason to refuse, and under the lock no tlskeyctl renames. */
static int judge_path(const char *path, int final)
{
	char err[CTL_LINE_MAX];
	struct stat st;
	char *copy = NULL;
	int r;

	if (stat(path, &st) == 0) {
		r = tk_file_trusted(path, &st, err, sizeof(err));
	} else if (errno == ENOENT) {
		copy = strdup(path);
		if (!copy) {
			ctl_err("out of memory");
			return -ENOMEM;
		}
		{
			const char *dir = dirname(copy);

			if (stat(dir, &st) < 0) {
				r = -errno;
				(void)snprintf(err, sizeof(err), "%s: %s", dir, strerror(errno));
			} else {
				r = tk_file_trusted(dir, &st, err, sizeof(err));
			}
		}
	} else {
		r = -errno;
		(void)snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
	}
	free(copy);
	if (r == -EAGAIN && !final)
		return 0; /* replaced between our stat and the walk: judged again under the lock */
	if (r < 0)
		ctl_err("refusing to edit %s: %s", path, err);
	return r;
}

static int edit_begin(const char *path, struct edit *ret)
{
	struct edit e = { .lock_fd = -1 };
	int r;

	r = judge_path(path, 0);
	if (r < 0)
		return r;
	r = resolve_path(path, &e.path, &e.dir);
	if (r < 0) {
		ctl_err("%s: %s", path, strerror(-r));
		return r;
	}
	r = lock_acquire(e.path, &e.lock_fd);
	if (r == 0)
		r = judge_path(path, 1);
	if (r == 0)
		r = read_acl(&e);
	if (r < 0) {
		edit_end(&e);
		return r;
	}
	*ret = e;
	return 0;
}

/* Parse buf as the new ACL under the file's name; print every error. */
static int validate(const struct edit *e, const char *buf, size_t len)
{
	struct acl *acl = NULL;
	char *err = malloc(CTL_ERR_MAX);
	int r;

	if (!err) {
		ctl_err("out of memory");
		return -ENOMEM;
	}
	r = acl_load_buffer(e->path, buf, len, &acl, err, CTL_ERR_MAX);
	if (r < 0) {
		ctl_err_lines(err[0] ? err : strerror(-r));
		ctl_err("%s: not changed", e->path);
	} else if (err[0]) {
		ctl_err_lines(err); /* warnings: the edit goes ahead */
	}
	acl_unref(acl);
	free(err);
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Has the file been replaced or rewritten since we read it? */
static int changed_under_us(const struct edit *e)
{
	struct stat now;

	if (stat(e->path, &now) < 0)
		return e->exists || errno != ENOENT;
	return !e->exists || now.st_dev != e->st.st_dev || now.st_ino != e->st.st_ino ||
	       now.st_size != e->st.st_size || now.st_mtim.tv_sec != e->st.st_mtim.tv_sec ||
	       now.st_mtim.tv_nsec != e->st.st_mtim.tv_nsec;
}

/* Replace the file with buf: temp file, fsync, rename, fsync the dir. */
static int edit_commit(struct edit *e, const char *buf, size_t len)
{
	sigset_t block, saved;
	struct stat tst;
	char *tmp = NULL;
	int fd = -1, dfd, r = 0, created = 0;
	mode_t mode = e->exists ? (e->st.st_mode & 07777) : NEW_ACL_MODE;

	/* No half-written temporary file left behind by ^C. */
	(void)sigemptyset(&block);
	(void)sigaddset(&block, SIGINT);
	(void)sigaddset(&block, SIGTERM);
	(void)sigaddset(&block, SIGHUP);
	(void)sigaddset(&block, SIGQUIT);
	(void)sigprocmask(SIG_BLOCK, &block, &saved);
	if (asprintf(&tmp, "%s/.%s.tlskeyctl.XXXXXX", e->dir, strrchr(e->path, '/') + 1) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		ctl_err("out of memory");
		goto out;
	}
	/* mkostemp: O_CREAT|O_EXCL, mode 0600 until we set the real one. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		ctl_err("%s: cannot create a temporary file: %s", e->dir, strerror(errno));
		goto out;
	}
	created = 1;
	if (fstat(fd, &tst) < 0) {
		r = -errno;
		ctl_err("%s: fstat: %s", tmp, strerror(errno));
		goto out;
	}
	if (e->exists && (tst.st_uid != e->st.st_uid || tst.st_gid != e->st.st_gid) &&
	    fchown(fd, e->st.st_uid, e->st.st_gid) < 0) {
		r = -errno;
		ctl_err("%s: cannot keep the owner %u:%u: %s", e->path, (unsigned)e->st.st_uid,
			(unsigned)e->st.st_gid, strerror(errno));
		goto out;
	}
	/* After fchown, which may clear set-id bits. */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		ctl_err("%s: fchmod: %s", tmp, strerror(errno));
		goto out;
	}
	r = write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		ctl_err("%s: write: %s", tmp, strerror(-r));
		goto out;
	}
	r = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (r < 0) {
		ctl_err("%s: close: %s", tmp, strerror(-r));
		goto out;
	}
	if (changed_under_us(e)) {
		r = -EAGAIN;
		ctl_err("%s: changed by another program while being edited; not changed, try again",
			e->path);
		goto out;
	}
	if (rename(tmp, e->path) < 0) {
		r = -errno;
		ctl_err("%s: rename from %s: %s", e->path, tmp, strerror(errno));
		goto out;
	}
	created = 0; /* renamed: nothing to clean up */
	dfd = open(e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		ctl_err("warning: %s: fsync of the directory failed (%s): the change is made but "
			"may not survive a crash", e->dir, strerror(errno));
	(void)tk_close(dfd);
out:
	(void)tk_close(fd);
	if (created)
		(void)unlink(tmp);
	(void)sigprocmask(SIG_SETMASK, &saved, NULL);
	free(tmp);
	return r;
}

/* The daemon refuses an ACL others could write (policy/acl_load.c): say
 * so now rather than at the next reload. */
static void warn_unsafe(const struct edit *e)
{
	uid_t owner = e->exists ? e->st.st_uid : geteuid();
	mode_t mode = e->exists ? e->st.st_mode : NEW_ACL_MODE;

	if (owner != 0 && owner != geteuid())
		ctl_err("warning: %s is owned by uid %u: tlskeyd will refuse it", e->path,
			(unsigned)owner);
	if (mode & (S_IWGRP | S_IWOTH))
		ctl_err("warning: %s is writable by group or others (mode %04o): tlskeyd will "
			"refuse it", e->path, (unsigned)(mode & 07777));
}

/* Offset of the start of line `line` (1-based) in buf, or len if the file
 * has fewer lines. */
static size_t line_offset(const char *buf, size_t len, unsigned line)
{
	size_t off = 0;

	for (unsigned l = 1; l < line && off < len; l++) {
		const char *nl = memchr(buf + off, '\n', len - off);

		if (!nl)
			return len;
		off = (size_t)(nl - buf) + 1;
	}
	return off;
}

/* Length of the line at off, including its newline if it has one. */
static size_t line_length(const char *buf, size_t len, size_t off)
{
	const char *nl = memchr(buf + off, '\n', len - off);

	return nl ? (size_t)(nl - buf) - off + 1 : len - off;
}

/* Only white space, or a comment? */
static int line_is_blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '#')
			return 1;
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	}
	return 1;
}

static int finish(struct ctl *ctl, int do_reload)
{
	if (!do_reload) {
		(void)fprintf(stderr, "Run 'tlskeyctl reload' to make tlskeyd use it.\n");
		return CTL_EXIT_OK;
	}
	return ctl_reload_send(ctl) < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

/* Join words with single spaces into one ACL line (with its newline).
 * Refuses anything that is not one allow, deny or map entry. */
static int join_words(int n, char **words, char **ret_line, size_t *ret_len)
{
	size_t len = 1;
	char *line, *p;

	if (n < 1)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		for (const char *c = words[i]; *c; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				ctl_err("acl add: control characters (newlines, tabs...) are not allowed "
					"in a rule");
				return -EINVAL;
			}
		}
		len += strlen(words[i]) + 1;
	}
	if (len > ACL_LINE_MAX) {
		ctl_err("acl add: the rule is longer than %u bytes", ACL_LINE_MAX);
		return -EINVAL;
	}
	if (strcmp(words[0], "allow") && strcmp(words[0], "deny") && strcmp(words[0], "map")) {
		ctl_err("acl add: a rule starts with allow, deny or map, not '%s'", words[0]);
		return -EINVAL;
	}
	line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	p = line;
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? " " : "", words[i]);
	*p++ = '\n';
	*p = '\0';
	*ret_line = line;
	*ret_len = (size_t)(p - line);
	return 0;
}

static int parse_number(const char *s, unsigned *ret)
{
	unsigned long v;
	int r = tk_parse_ulong(s, 1, UINT_MAX, &v);

	if (r == 0)
		*ret = (unsigned)v;
	return r;
}

/* Print where the entry on `line` of the new contents ended up. */
static void report_added(const struct edit *e, const char *buf, size_t len, unsigned line)
{
	unsigned *rules = NULL, *maps = NULL;
	size_t n_rules = 0, n_maps = 0;

	if (ctl_acl_entry_lines(buf, len, &rules, &n_rules, &maps, &n_maps) == 0) {
		for (size_t i = 0; i < n_rules; i++)
			if (rules[i] == line)
				(void)printf("added rule %zu at %s:%u\n", i + 1, e->path, line);
		for (size_t i = 0; i < n_maps; i++)
			if (maps[i] == line)
				(void)printf("added map line at %s:%u\n", e->path, line);
	}
	free(rules);
	free(maps);
}

int ctl_acl_add(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [--acl FILE] acl add [--before N] [--reload] WORD...\n"
		"Add one line (the WORDs joined by spaces), e.g.\n"
		"  tlskeyctl acl add allow group:www-data www.example.com server\n"
		"at the end of the ACL, or before rule N (numbers as in 'acl list').\n"
		"The whole resulting file is validated first; if it is not valid the\n"
		"file is left untouched and every error is printed (exit 1).\n"
		"  --before N  insert before rule N\n"
		"  --reload    then make the daemon reload its ACL\n";
	static const struct option opts[] = { { "before", required_argument, NULL, 'b' },
					      { "reload", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct edit e = { .lock_fd = -1 };
	unsigned before = 0, at_line, *rules = NULL, *maps = NULL;
	size_t n_rules = 0, n_maps = 0, line_len, off, new_len;
	char *line = NULL, *nbuf = NULL;
	const char *path;
	int opt, do_reload = 0, rc = CTL_EXIT_FAIL;

	/* "+": words like "-" (a map target) after the options are rule words. */
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (parse_number(optarg, &before) < 0) {
				ctl_err("acl add: --before needs a rule number, not '%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'r': do_reload = 1; break;
		case 'h': (void)fputs(usage_text, stdout); return CTL_EXIT_OK;
		default: (void)fputs(usage_text, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	if (join_words(argc - optind, argv + optind, &line, &line_len) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_acl_path(ctl, &path) < 0 || edit_begin(path, &e) < 0)
		goto out;
	if (before) {
		if (ctl_acl_entry_lines(e.buf, e.len, &rules, &n_rules, &maps, &n_maps) < 0) {
			ctl_err("%s: not a valid ACL now ('tlskeyctl acl check' says why), so rule "
				"numbers mean nothing", e.path);
			goto out;
		}
		if (before > n_rules) {
			ctl_err("acl add: no rule %u in %s (it has %zu)", before, e.path, n_rules);
			goto out;
		}
		at_line = rules[before - 1];
		off = line_offset(e.buf, e.len, at_line);
	} else {
		off = e.len;
		at_line = 1;
		for (size_t i = 0; i < e.len; i++)
			at_line += e.buf[i] == '\n';
	}
	/* The last line needs no newline: give it one before appending. */
	nbuf = malloc(e.len + line_len + 2);
	if (!nbuf) {
		ctl_err("out of memory");
		goto out;
	}
	memcpy(nbuf, e.buf, off);
	new_len = off;
	if (off > 0 && nbuf[off - 1] != '\n') {
		nbuf[new_len++] = '\n';
		at_line++;
	}
	memcpy(nbuf + new_len, line, line_len);
	new_len += line_len;
	memcpy(nbuf + new_len, e.buf + off, e.len - off);
	new_len += e.len - off;
	if (validate(&e, nbuf, new_len) < 0 || edit_commit(&e, nbuf, new_len) < 0)
		goto out;
	if (!e.exists)
		(void)printf("created %s\n", e.path);
	report_added(&e, nbuf, new_len, at_line);
	warn_unsafe(&e);
	edit_end(&e); /* unlock before talking to the daemon */
	rc = finish(ctl, do_reload);
out:
	edit_end(&e);
	free(rules);
	free(maps);
	free(line);
	free(nbuf);
	return rc;
}

int ctl_acl_remove(struct ctl *ctl, int argc, char **argv)
{
	static const char usage_text[] =
		"Usage: tlskeyctl [--acl FILE] acl remove [--reload] N\n"
		"       tlskeyctl [--acl FILE] acl remove [--reload] --line L\n"
		"Remove rule N (numbers as in 'acl list'), or the rule or map line on\n"
		"line L of the file.  The result is validated before it is written.\n"
		"  --reload    then make the daemon reload its ACL\n";
	static const struct option opts[] = { { "line", required_argument, NULL, 'l' },
					      { "reload", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct edit e = { .lock_fd = -1 };
	unsigned number = 0, line = 0, *rules = NULL, *maps = NULL;
	size_t n_rules = 0, n_maps = 0, off, len;
	char *nbuf = NULL;
	const char *path;
	int opt, do_reload = 0, found = 0, rc = CTL_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (parse_number(optarg, &line) < 0) {
				ctl_err("acl remove: --line needs a line number, not '%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'r': do_reload = 1; break;
		case 'h': (void)fputs(usage_text, stdout); return CTL_EXIT_OK;
		default: (void)fputs(usage_text, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc && !line && optind + 1 == argc) {
		if (parse_number(argv[optind], &number) < 0) {
			ctl_err("acl remove: '%s' is not a rule number", argv[optind]);
			return CTL_EXIT_USAGE;
		}
	} else if (optind != argc || !line) {
		(void)fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_acl_path(ctl, &path) < 0 || edit_begin(path, &e) < 0)
		goto out;
	if (!e.exists) {
		ctl_err("%s: %s", e.path, strerror(ENOENT));
		goto out;
	}
	if (ctl_acl_entry_lines(e.buf, e.len, &rules, &n_rules, &maps, &n_maps) == 0) {
		if (number > n_rules) {
			ctl_err("acl remove: no rule %u in %s (it has %zu)", number, e.path, n_rules);
			goto out;
		}
		if (number)
			line = rules[number - 1];
		for (size_t i = 0; i < n_rules; i++)
			found |= rules[i] == line;
		for (size_t i = 0; i < n_maps; i++)
			found |= maps[i] == line;
	} else if (number) {
		ctl_err("%s: not a valid ACL now ('tlskeyctl acl check' says why), so rule numbers "
			"mean nothing; remove by --line", e.path);
		goto out;
	}
	off = line_offset(e.buf, e.len, line);
	len = off < e.len ? line_length(e.buf, e.len, off) : 0;
	/* An invalid file has no index: then any line but a blank or comment
	 * one may go, as long as what remains is valid (checked below). */
	if (!rules && len > 0 && !line_is_blank(e.buf + off, len))
		found = 1;
	if (!found) {
		ctl_err("acl remove: %s:%u holds no rule or map line", e.path, line);
		goto out;
	}
	nbuf = malloc(e.len + 1);
	if (!nbuf) {
		ctl_err("out of memory");
		goto out;
	}
	memcpy(nbuf, e.buf, off);
	memcpy(nbuf + off, e.buf + off + len, e.len - off - len);
	if (validate(&e, nbuf, e.len - len) < 0 || edit_commit(&e, nbuf, e.len - len) < 0)
		goto out;
	/* The removed text as it was, without its line end. */
	while (len > 0 && (e.buf[off + len - 1] == '\n' || e.buf[off + len - 1] == '\r'))
		len--;
	(void)printf("removed %s:%u: %.*s\n", e.path, line, (int)len, e.buf + off);
	warn_unsafe(&e);
	edit_end(&e);
	rc = finish(ctl, do_reload);
out:
	edit_end(&e);
	free(rules);
	free(maps);
	free(nbuf);
	return rc;
}
