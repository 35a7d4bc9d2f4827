#!/bin/bash
# Static checks of the shipped systemd files:
#  - the generated tlskeyd.service has every @VAR@ substituted;
#  - "systemd-analyze verify" accepts tlskeyd.socket and tlskeyd.service
#    without a single message, Documentation= man pages included (checked
#    against doc/man, not the installed ones).  Only ExecStart= and
#    ExecReload= are pointed at the built binaries, since the installed ones
#    need not exist yet;
#  - a control copy with injected mistakes is rejected, so the check above
#    cannot pass by ignoring messages;
#  - the hardening does not regress: "systemd-analyze security" exposure
#    at most TK_MAX_EXPOSURE (default 1.7; 1.4 when this was written);
#  - the same for tlskeyd-ocsp.timer and tlskeyd-ocsp.service;
#  - systemd-sysusers creates the tlskeyd user and group from
#    sysusers.d/tlskeyd.conf in an empty root.
. "${top_srcdir:-.}/test/lib/tk.sh"

command -v systemd-analyze >/dev/null 2>&1 || tk_skip "systemd-analyze not found"
SVC=$top_builddir/systemd/tlskeyd.service
SOCK=$top_srcdir/systemd/tlskeyd.socket
SYSUSERS=$top_builddir/systemd/sysusers.d/tlskeyd.conf
DAEMON=$top_builddir/tlskeyd
[ -r "$SVC" ] || tk_skip "$SVC was not generated (run make first)"
[ -r "$SYSUSERS" ] || tk_skip "$SYSUSERS was not generated (run make first)"
[ -x "$DAEMON" ] || tk_skip "$DAEMON not built"

tk_tmpdir
DAEMON=$(cd -P -- "$(dirname "$DAEMON")" && pwd)/tlskeyd
CTL=$(dirname "$DAEMON")/tlskeyctl
[ -x "$CTL" ] || tk_skip "$CTL not built"

# --- substitution ----------------------------------------------------------------
if grep -n '@[A-Za-z_]*@' "$SVC" >&2; then
	tk_fail "unsubstituted template variables in $SVC"
fi
grep -qE '^ExecStart=/[^ ]*/tlskeyd -c /[^ ]*/tlskeyd/tlskeyd\.conf$' "$SVC" ||
	tk_fail "unexpected ExecStart= in $SVC: $(grep '^ExecStart=' "$SVC")"
grep -qE '^ExecReload=/[^ ]*/tlskeyctl -c /[^ ]*/tlskeyd/tlskeyd\.conf reload$' "$SVC" ||
	tk_fail "unexpected ExecReload= in $SVC: $(grep '^ExecReload=' "$SVC")"

# --- systemd-analyze verify ---------------------------------------------------------
mkdir "$TK_TMP/units" "$TK_TMP/bad"
cp "$SOCK" "$SVC" "$TK_TMP/units/"
chmod u+w "$TK_TMP/units"/*
sed -i -e "s|^ExecStart=[^ ]*|ExecStart=$DAEMON|" -e "s|^ExecReload=[^ ]*|ExecReload=$CTL|" \
	"$TK_TMP/units/tlskeyd.service"

man_opt=--man=no
if command -v man >/dev/null 2>&1; then
	# Documentation=man:... must name pages we ship.
	for page in "$top_srcdir"/doc/man/*.[0-9]; do
		[ -e "$page" ] || continue
		sec=${page##*.}
		mkdir -p "$TK_TMP/man/man$sec"
		cp "$page" "$TK_TMP/man/man$sec/"
	done
	export MANPATH=$TK_TMP/man
	man_opt=--man=yes
else
	tk_log "man not found: Documentation= pages are not checked"
fi

# verify UNIT...: run systemd-analyze verify in the unit directory; its
# messages go to $TK_TMP/verify.out.  Returns its exit status.
verify() {
	local rc=0
	(cd "$(dirname "$1")" && SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER='' \
		systemd-analyze verify "$man_opt" "$@") >"$TK_TMP/verify.out" 2>&1 || rc=$?
	return "$rc"
}

rc=0
verify "$TK_TMP/units/tlskeyd.socket" "$TK_TMP/units/tlskeyd.service" || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$TK_TMP/verify.out" ]; then
	cat "$TK_TMP/verify.out" >&2
	tk_fail "systemd-analyze verify (exit $rc) complained about the units"
fi
tk_log "systemd-analyze verify $man_opt: no complaints"

# Control: the same check must notice a misspelt directive, a bad value and
# a relative socket path.
cp "$TK_TMP/units"/* "$TK_TMP/bad/"
sed -i -e 's/^ProtectSystem=strict/ProtectSytem=strict/' \
	-e 's/^Type=notify/Type=notifyy/' "$TK_TMP/bad/tlskeyd.service"
sed -i 's|^ListenSequentialPacket=.*|ListenSequentialPacket=relative/tlskeyd.sock|' "$TK_TMP/bad/tlskeyd.socket"
rc=0
verify "$TK_TMP/bad/tlskeyd.socket" "$TK_TMP/bad/tlskeyd.service" || rc=$?
for want in ProtectSytem notifyy relative/tlskeyd.sock; do
	grep -q -- "$want" "$TK_TMP/verify.out" || {
		cat "$TK_TMP/verify.out" >&2
		tk_fail "systemd-analyze verify did not report the injected mistake '$want'"
	}
done

# The OCSP refresh units: tlskeyd-ocsp.timer starts tlskeyd-ocsp.service,
# which runs "tlskeyctl ocsp-fetch --reload" as the daemon's user.
OSVC=$top_builddir/systemd/tlskeyd-ocsp.service
[ -r "$OSVC" ] || tk_fail "$OSVC was not generated"
if grep -n '@[A-Za-z_]*@' "$OSVC" >&2; then
	tk_fail "unsubstituted template variables in $OSVC"
fi
grep -qE '^ExecStart=/[^ ]*/tlskeyctl -c /[^ ]*/tlskeyd/tlskeyd\.conf ocsp-fetch --reload$' "$OSVC" ||
	tk_fail "unexpected ExecStart= in $OSVC: $(grep '^ExecStart=' "$OSVC")"
grep -qx 'User=tlskeyd' "$OSVC" || tk_fail "$OSVC does not run as tlskeyd"
cp "$OSVC" "$top_srcdir/systemd/tlskeyd-ocsp.timer" "$TK_TMP/units/"
chmod u+w "$TK_TMP/units"/*
sed -i "s|^ExecStart=[^ ]*|ExecStart=$CTL|" "$TK_TMP/units/tlskeyd-ocsp.service"
rc=0
verify "$TK_TMP/units/tlskeyd-ocsp.timer" "$TK_TMP/units/tlskeyd-ocsp.service" || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$TK_TMP/verify.out" ]; then
	cat "$TK_TMP/verify.out" >&2
	tk_fail "systemd-analyze verify (exit $rc) complained about the OCSP units"
fi
tk_log "tlskeyd-ocsp.timer and .service: no complaints"

# --- exposure --------------------------------------------------------------------------
max=${TK_MAX_EXPOSURE:-1.7}
if systemd-analyze security --help 2>&1 | grep -- '--offline' >/dev/null; then
	rc=0
	SYSTEMD_LOG_COLOR=0 systemd-analyze security --no-pager --offline=true \
		"$TK_TMP/units/tlskeyd.service" >"$TK_TMP/security.out" 2>&1 || rc=$?
	line=$(grep 'Overall exposure level' "$TK_TMP/security.out" || true)
	[ -n "$line" ] || {
		cat "$TK_TMP/security.out" >&2
		tk_fail "systemd-analyze security --offline gave no exposure level (exit $rc)"
	}
	score=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+) .*/\1/')
	tk_log "exposure: $score (limit $max)"
	awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 <= m + 0) }' || {
		grep '✗' "$TK_TMP/security.out" >&2 || true
		tk_fail "exposure $score is above $max: hardening regressed"
	}
else
	tk_log "systemd-analyze security has no --offline (systemd < 250): exposure not measured"
fi

# --- sysusers ----------------------------------------------------------------------------
if command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$TK_TMP/root/etc"
	systemd-sysusers --root="$TK_TMP/root" - <"$SYSUSERS" >"$TK_TMP/sysusers.out" 2>&1 || {
		cat "$TK_TMP/sysusers.out" >&2
		tk_fail "systemd-sysusers rejected $SYSUSERS"
	}
	grep -q '^tlskeyd:x:[0-9]*:[0-9]*:' "$TK_TMP/root/etc/passwd" || tk_fail "sysusers created no tlskeyd user"
	grep -q '^tlskeyd:x:[0-9]*:' "$TK_TMP/root/etc/group" || tk_fail "sysusers created no tlskeyd group"
	# The unit runs as that user and group.
	if ! grep -qx 'User=tlskeyd' "$SVC" || ! grep -qx 'Group=tlskeyd' "$SVC"; then
		tk_fail "$SVC does not run as tlskeyd:tlskeyd"
	fi
else
	tk_log "systemd-sysusers not found: sysusers.d file not checked"
fi
tk_log "PASS"
