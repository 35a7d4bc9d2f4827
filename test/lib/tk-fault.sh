# Part of test/lib/tk.sh (sourced by it): helpers for the fault tests.
#   tk_fault_setup [CONF-LINES]   temp dir + fixture, daemon on libfaultp11 with
#                              extra "key = value" lines appended to the
#                              global section (they override the fixture's)
#   tk_fault_set LINE...          rewrite the control file atomically
#   tk_fault_fds / tk_fault_rss_kb   the daemon's open descriptors (but its pairs made
#                                    ahead) / VmRSS
FAULT_LIB=${FAULT_LIB:-$top_builddir/test/fault/.libs/libfaultp11.so}
FAULT_HOSTILE=${FAULT_HOSTILE:-$top_builddir/test/fault/hostile}

# tk_fault_conf EXTRA: print the fixture's configuration with the module
# replaced by libfaultp11 and EXTRA settings in place of the fixture's.
tk_fault_conf() {
	local extra=$1 key
	awk -v lib="$FAULT_LIB" -v extra="$extra" '
		BEGIN { n = split(extra, e, "\n"); for (i = 1; i <= n; i++) {
			k = e[i]; sub(/[ \t]*=.*/, "", k); if (k != "") over[k] = e[i] } }
		/^\[/ && !done { for (k in over) print over[k]; done = 1 }
		{ k = $0; sub(/[ \t]*=.*/, "", k) }
		k == "pkcs11-module" { print "pkcs11-module = " lib; next }
		(k in over) { next }
		{ print }' "$TK_FX/tlskeyd.conf"
}

tk_fault_setup() {
	[ -e "$FAULT_LIB" ] || tk_fail "$FAULT_LIB not built"
	[ -x "$FAULT_HOSTILE" ] || tk_fail "$FAULT_HOSTILE not built"
	tk_setup --no-daemon
	export FAULTP11_MODULE=$TK_MODULE
	export FAULTP11_CONTROL=$TK_TMP/faultp11.ctl
	tk_fault_set "fail=none"
	# Run the daemon as ./kd -c kd.conf from the temp dir: on a shared
	# machine other suites clean up with "pkill tlskeyd" and the like,
	# and the daemon under test should not be caught by that.
	cd "$TK_TMP"
	if [ "$(head -c 4 "$TLSKEYD" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		cp "$TLSKEYD" "$TK_TMP/kd"
		TLSKEYD=./kd
	fi
	tk_fault_conf "${1:-}" >"$TK_TMP/kd.conf"
	tk_daemon_start kd.conf
}

tk_fault_set() {
	printf '%s\n' "$@" >"$FAULTP11_CONTROL.tmp"
	mv -f "$FAULTP11_CONTROL.tmp" "$FAULTP11_CONTROL"
}

# Descriptors, not counting the protected pairs the workers made ahead
# (STATUS "protected pairs ready", two descriptors each): counted between
# two reads of that number that agree, so a pool refilled meanwhile is not
# taken for a leak or for a return to the baseline.
tk_fault_pairs() {
	timeout 10 "${TLSKEYCTL:-$top_builddir/tlskeyctl}" status 2>/dev/null |
		awk -F': ' '$1 == "protected pairs ready" { print $2 }'
}
tk_fault_fds() {
	local p1 p2 n
	for _ in 1 2 3 4 5; do
		p1=$(tk_fault_pairs)
		n=$(ls "/proc/$TK_DAEMON_PID/fd" | wc -l)
		p2=$(tk_fault_pairs)
		[ -n "$p1" ] && [ "$p1" = "$p2" ] && break
	done
	[ -n "$p1" ] || tk_fail "tk_fault_fds: no \"protected pairs ready\" in tlskeyctl status"
	echo $((n - 2 * p1))
}
tk_fault_rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$TK_DAEMON_PID/status"; }

# tk_ms: milliseconds since the epoch.
tk_ms() { date +%s%3N; }
