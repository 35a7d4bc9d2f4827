#!/bin/bash
# Static checks of the shipped systemd files:
#  - the generated tlskeyd.service has every @VAR@ substituted;
#  - "systemd-analyze verify" accepts tlskeyd.socket and tlskeyd.service
#    without a single message, Documentation= man pages included (checked
#    against doc/man, not the installed ones).  Only ExecStart= is pointed
#    at the built binary, since the installed one need not exist yet;
#  - a control copy with injected mistakes is rejected, so the check above
#    cannot pass by ignoring messages;
#  - the hardening does not regress: "systemd-analyze security" exposure
#    at most TK_MAX_EXPOSURE (default 1.7; 1.4 when this was written);
#  - systemd-sysusers creates the tlskeyd user and group from
#    sysusers.d/tlskeyd.conf in an empty root.
set -euo pipefail
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-$top_srcdir}
NAME=units-verify
skip() {
	echo "SKIP: $NAME: $*" >&2
	exit 77
}
fail() {
	echo "FAIL: $NAME: $*" >&2
	exit 1
}
log() { echo "[$NAME] $*" >&2; }

command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze not found"
SVC=$top_builddir/systemd/tlskeyd.service
SOCK=$top_srcdir/systemd/tlskeyd.socket
SYSUSERS=$top_builddir/systemd/sysusers.d/tlskeyd.conf
DAEMON=$top_builddir/tlskeyd
[ -r "$SVC" ] || skip "$SVC was not generated (run make first)"
[ -r "$SYSUSERS" ] || skip "$SYSUSERS was not generated (run make first)"
[ -x "$DAEMON" ] || skip "$DAEMON not built"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$NAME.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
DAEMON=$(cd -P -- "$(dirname "$DAEMON")" && pwd)/tlskeyd

# --- substitution ----------------------------------------------------------------
if grep -n '@[A-Za-z_]*@' "$SVC" >&2; then
	fail "unsubstituted template variables in $SVC"
fi
grep -qE '^ExecStart=/[^ ]*/tlskeyd -c /[^ ]*/tlskeyd/tlskeyd\.conf$' "$SVC" ||
	fail "unexpected ExecStart= in $SVC: $(grep '^ExecStart=' "$SVC")"

# --- systemd-analyze verify ---------------------------------------------------------
mkdir "$TMP/units" "$TMP/bad"
cp "$SOCK" "$SVC" "$TMP/units/"
chmod u+w "$TMP/units"/*
sed -i "s|^ExecStart=[^ ]*|ExecStart=$DAEMON|" "$TMP/units/tlskeyd.service"

man_opt=--man=no
if command -v man >/dev/null 2>&1; then
	# Documentation=man:... must name pages we ship.
	for page in "$top_srcdir"/doc/man/*.[0-9]; do
		[ -e "$page" ] || continue
		sec=${page##*.}
		mkdir -p "$TMP/man/man$sec"
		cp "$page" "$TMP/man/man$sec/"
	done
	export MANPATH=$TMP/man
	man_opt=--man=yes
else
	log "man not found: Documentation= pages are not checked"
fi

# verify UNIT...: run systemd-analyze verify in the unit directory; its
# messages go to $TMP/verify.out.  Returns its exit status.
verify() {
	local rc=0
	(cd "$(dirname "$1")" && SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER='' \
		systemd-analyze verify "$man_opt" "$@") >"$TMP/verify.out" 2>&1 || rc=$?
	return "$rc"
}

rc=0
verify "$TMP/units/tlskeyd.socket" "$TMP/units/tlskeyd.service" || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$TMP/verify.out" ]; then
	cat "$TMP/verify.out" >&2
	fail "systemd-analyze verify (exit $rc) complained about the units"
fi
log "systemd-analyze verify $man_opt: no complaints"

# Control: the same check must notice a misspelt directive, a bad value and
# a relative socket path.
cp "$TMP/units"/* "$TMP/bad/"
sed -i -e 's/^ProtectSystem=strict/ProtectSytem=strict/' \
	-e 's/^Type=notify/Type=notifyy/' "$TMP/bad/tlskeyd.service"
sed -i 's|^ListenSequentialPacket=.*|ListenSequentialPacket=relative/tlskeyd.sock|' "$TMP/bad/tlskeyd.socket"
rc=0
verify "$TMP/bad/tlskeyd.socket" "$TMP/bad/tlskeyd.service" || rc=$?
for want in ProtectSytem notifyy relative/tlskeyd.sock; do
	grep -q -- "$want" "$TMP/verify.out" || {
		cat "$TMP/verify.out" >&2
		fail "systemd-analyze verify did not report the injected mistake '$want'"
	}
done

# --- exposure --------------------------------------------------------------------------
max=${TK_MAX_EXPOSURE:-1.7}
if systemd-analyze security --help 2>&1 | grep -- '--offline' >/dev/null; then
	rc=0
	SYSTEMD_LOG_COLOR=0 systemd-analyze security --no-pager --offline=true \
		"$TMP/units/tlskeyd.service" >"$TMP/security.out" 2>&1 || rc=$?
	line=$(grep 'Overall exposure level' "$TMP/security.out" || true)
	[ -n "$line" ] || {
		cat "$TMP/security.out" >&2
		fail "systemd-analyze security --offline gave no exposure level (exit $rc)"
	}
	score=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+) .*/\1/')
	log "exposure: $score (limit $max)"
	awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 <= m + 0) }' || {
		grep '✗' "$TMP/security.out" >&2 || true
		fail "exposure $score is above $max: hardening regressed"
	}
else
	log "systemd-analyze security has no --offline (systemd < 250): exposure not measured"
fi

# --- sysusers ----------------------------------------------------------------------------
if command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$TMP/root/etc"
	systemd-sysusers --root="$TMP/root" - <"$SYSUSERS" >"$TMP/sysusers.out" 2>&1 || {
		cat "$TMP/sysusers.out" >&2
		fail "systemd-sysusers rejected $SYSUSERS"
	}
	grep -q '^tlskeyd:x:[0-9]*:[0-9]*:' "$TMP/root/etc/passwd" || fail "sysusers created no tlskeyd user"
	grep -q '^tlskeyd:x:[0-9]*:' "$TMP/root/etc/group" || fail "sysusers created no tlskeyd group"
	# The unit runs as that user and group.
	if ! grep -qx 'User=tlskeyd' "$SVC" || ! grep -qx 'Group=tlskeyd' "$SVC"; then
		fail "$SVC does not run as tlskeyd:tlskeyd"
	fi
else
	log "systemd-sysusers not found: sysusers.d file not checked"
fi
log "PASS"
