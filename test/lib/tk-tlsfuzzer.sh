# Part of test/lib/tk.sh (sourced by it): tlsfuzzer, the public TLS
# conformance suite, against tlskeyd (tlskey-tunnel server mode in front of
# a tiny HTTP responder) and against gnutls-serv --http with the same token
# key, in the same run.  A test (test/conformance/*.sh) does:
#   . "${top_srcdir:-.}/test/lib/tk.sh"
#   tk_tf_init "$@"              # skip without tlsfuzzer; own network namespace
#   tk_setup
#   tk_tf_compare rsa SCRIPT...  # both servers, per-test comparison
#   tk_tf_compare ecdsa SCRIPT...
#   tk_tf_done
# gnutls-serv cannot be told an address (it binds all interfaces), so the
# whole test runs in a network namespace of its own with only lo up: the
# daemon, the tunnel, gnutls-serv and the tlsfuzzer client.  The daemon's
# control socket is a path, so nothing else needs to change.
#
# Comparison: every tlsfuzzer test is run whole (-n 0); a test that passes
# against gnutls-serv and fails through tlskeyd fails the run, unless it is
# listed in test/conformance/exceptions.txt (which doc/testing.md,
# "Conformance differences", explains line by line; tk_tf_init checks that
# every listed name is there).
# tlsfuzzer lives in shared/ beside the repository (CI's clone has it
# there); in a git worktree, beside the main clone.
if [ -z "${TK_TF_DIR:-}" ]; then
	TK_TF_DIR=$top_srcdir/../shared/tlsfuzzer
	# Only from the top of a work tree: a distcheck tree inside the clone
	# must not find it (distcheck skips these tests).
	if [ ! -d "$TK_TF_DIR" ] &&
		[ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$top_srcdir" && pwd -P)" ] &&
		_tk_gd=$(git -C "$top_srcdir" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
		TK_TF_DIR=$(dirname "$_tk_gd")/../shared/tlsfuzzer
	fi
fi
# Debian's python3 has python3-ecdsa; another python3 first on PATH may not.
TK_TF_PY=${TK_TF_PY:-/usr/bin/python3}
TK_TF_EXC=${TK_TF_EXC:-$top_srcdir/test/conformance/exceptions.txt}
# One tlsfuzzer script may take this long against one server: the slowest
# (test-large-hello) took 143 s on a loaded machine (doc/testing.md), so
# this leaves room for a slower one and still ends a hung script.
TK_TF_SCRIPT_LIMIT=${TK_TF_SCRIPT_LIMIT:-420}
TK_TF_DIFFS=0
# The scripts run whole for both keys (test/conformance/tlsfuzzer-rsa.sh,
# -ecdsa.sh); the two long ones (test-tls13-finished, test-large-hello:
# about a minute per server each) have test scripts of their own, so that
# make -j2 check runs them beside the others.
TK_TF_MAIN_SET="test-tls13-conversation test-conversation test-tls13-keyupdate
	test-tls13-unrecognised-groups test-tls13-version-negotiation test-record-layer-fragmentation
	test-renegotiation-disabled test-truncating-of-client-hello test-zero-length-data
	test-tls13-zero-length-data test-tls13-keyshare-omitted test-tls13-ccs test-tls13-empty-alert
	test-tls13-unencrypted-alert test-tls13-hrr test-ssl-death-alert test-tls13-finished-plaintext
	test-empty-extensions test-ccs test-tls13-multiple-ccs-messages test-tls13-ecdsa-support
	test-ecdsa-sig-flexibility test-tls13-record-layer-limits test-record-size-limit
	test-tls13-count-tickets test-fallback-scsv test-downgrade-protection
	test-tls13-keyupdate-from-server
	test-tls13-nociphers test-tls13-legacy-version test-tls13-rsa-signatures
	test-tls13-rsapss-signatures test-tls13-crfg-curves test-tls13-pkcs-signature
	test-invalid-compression-methods test-tls13-obsolete-curves test-encrypt-then-mac
	test-tls13-signature-algorithms test-tls13-non-support test-tls13-invalid-ciphers
	test-ecdhe-rsa-key-exchange"

# tk_tf_long: skip (77) in a sanitizer build, where the long scripts would
# take several minutes (TK_CONFORMANCE_FULL=1 runs them anyway).  The
# sanitizer build is recognised by the ASan runtime in the daemon.
tk_tf_long() {
	[ "${TK_CONFORMANCE_FULL:-0}" = 1 ] && return 0
	if tk_sanitized; then
		tk_skip "sanitizer build: the long tlsfuzzer scripts run in the normal build only"
	fi
}

# tk_tf_init ARGS...: skip (77) if tlsfuzzer is not beside the repository,
# check the exceptions against doc/testing.md, then re-run this test in a
# new network namespace (once) and bring lo up there.
tk_tf_init() {
	[ -d "$TK_TF_DIR/tlsfuzzer/tlsfuzzer/_apps" ] && [ -d "$TK_TF_DIR/tlslite-ng/tlslite" ] ||
		tk_skip "tlsfuzzer not found in $TK_TF_DIR"
	[ -x "$TK_TF_PY" ] || tk_fail "$TK_TF_PY not found"
	"$TK_TF_PY" -c 'import ecdsa' 2>/dev/null ||
		tk_fail "python3-ecdsa is missing (tools/install-deps.sh --test installs it)"
	tk_need gnutls-serv ip unshare
	tk_tf_check_exceptions
	if [ "${TK_TF_NETNS:-}" != 1 ]; then
		local u=-n
		[ "$(id -u)" = 0 ] || u=-rn
		TK_TF_NETNS=1 exec unshare $u -- "${BASH:-bash}" "$0" "$@"
	fi
	ip link set lo up || tk_fail "cannot bring lo up in the test's network namespace"
}

# tk_tf_check_exceptions: every name in the exceptions file is explained in
# doc/testing.md, "Conformance differences": a line there names the script
# and the test in backquotes (the two are kept in sync by this check).
tk_tf_check_exceptions() {
	local doc=$top_srcdir/doc/testing.md script name keys
	[ -r "$TK_TF_EXC" ] || tk_fail "$TK_TF_EXC missing"
	while IFS=$'\t' read -r script name keys; do
		case $script in '' | '#'*) continue ;; esac
		[ -n "$name" ] && [ -n "$keys" ] || tk_fail "bad line in $TK_TF_EXC: $script"
		# On one line of the doc: the script and the name in backquotes.
		grep -F -- "$script" "$doc" | grep -F -- "\`$name\`" >/dev/null ||
			tk_fail "exception '$script: $name' is not explained in doc/testing.md"
	done <"$TK_TF_EXC"
}

# tk_tf_is_exception KEY SCRIPT NAME: listed for KEY (or '*').  A listed
# name ending in '*' matches every test name starting with what precedes.
tk_tf_is_exception() {
	local key=$1 s=$2 n=$3 script name keys
	while IFS=$'\t' read -r script name keys; do
		case $script in '' | '#'*) continue ;; esac
		[ "$script" = "$s" ] || continue
		case ",$keys," in *",$key,"* | *",*,"*) ;; *) continue ;; esac
		if [ "${name%\*}" != "$name" ]; then
			[ "${n#"${name%\*}"}" != "$n" ] && return 0
		elif [ "$name" = "$n" ]; then
			return 0
		fi
	done <"$TK_TF_EXC"
	return 1
}

# The HTTP responder behind the tunnel, one /bin/sh per connection
# (--exec): reads a request up to its empty line (CRLF or bare LF) and
# answers it with exactly the bytes gnutls-serv --http --httpdata sends
# (tk_tf_reply), then closes (HTTP/1.0), as gnutls-serv does.  A
# connection that ends before a whole request gets no answer.
# shellcheck disable=SC2016
TK_TF_HTTP='cr=$(printf "\r"); while :; do IFS= read -r l || exit 0; [ "$l" = "" ] || [ "$l" = "$cr" ] && break; done; exec cat "$1"'

# tk_tf_reply: the body both servers serve ($TK_TMP/http.body, for
# gnutls-serv --httpdata) and the whole reply ($TK_TMP/http.reply, the
# header gnutls-serv puts before it); TK_TF_REPLY_SIZE is its size, which
# test-record-size-limit must be told.
tk_tf_reply() {
	[ -s "$TK_TMP/http.reply" ] && return 0
	printf 'hello from the conformance test\n' >"$TK_TMP/http.body"
	printf 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\n\r\n' \
		"$(wc -c <"$TK_TMP/http.body")" >"$TK_TMP/http.reply"
	cat "$TK_TMP/http.body" >>"$TK_TMP/http.reply"
	TK_TF_REPLY_SIZE=$(wc -c <"$TK_TMP/http.reply")
}

# tk_tf_servers KEY: start both servers for KEY (rsa: rsa.example.test,
# key server-rsa; ecdsa: server.example.test, key server-ec).  Sets
# TK_TF_GS_PORT (gnutls-serv) and TK_TF_TK_PORT (tunnel -> tlskeyd).
tk_tf_servers() {
	local key=$1 label myname
	case $key in
	rsa) label=server-rsa myname=rsa.example.test ;;
	ecdsa) label=server-ec myname=server.example.test ;;
	*) tk_fail "tk_tf_servers: unknown key $key" ;;
	esac
	# The PIN reaches gnutls-serv in its environment, never in argv.
	GNUTLS_PIN=$(cat "$TK_FX/pin")
	export GNUTLS_PIN
	# gnutls-serv asks for a client certificate unless told not to (-a);
	# the tunnel below does not ask either.  Tickets stay as gnutls-serv
	# has them by default (a documented difference).
	tk_tf_reply
	tk_start_peer "gs-$key" gnutls-serv --http --httpdata "$TK_TMP/http.body" -a --port PORT \
		--provider "$TK_MODULE" \
		--x509certfile "$TK_FX/$label.pem" \
		--x509keyfile "$TK_TOKEN_URI;object=$label;type=private"
	unset GNUTLS_PIN
	TK_TF_GS_PORT=$TK_PORT
	TK_TF_GS_PID=$TK_PEER_PID
	# No cap per source address: every tlsfuzzer connection comes from
	# 127.0.0.1, and a test that closes without waiting for our close (a
	# failed test closes as soon as it fails; some tests end with Close())
	# is back with its next connection while the tunnel still counts the
	# last one: tlskeyd's verdict follows its alert, an --exec child may
	# still run.  With the default share (4 of 16) a CI run (ASan build)
	# had two connections reset unread; with a share of 1 most runs of
	# test-tls13-signature-algorithms do.
	tk_tunnel "tun-$key" --mode server --myname "$myname" --flags no-request-peer-cert \
		--max-conns 16 --max-conns-per-source 0 --timeout 10s --exec /bin/sh -c "$TK_TF_HTTP" sh "$TK_TMP/http.reply"
	TK_TF_TK_PORT=$TT_PORT
	TK_TF_TK_PID=$TT_PID
}

# tk_tf_servers_stop KEY: stop both (the tunnel must exit 0).
tk_tf_servers_stop() {
	kill "$TK_TF_GS_PID" 2>/dev/null || true
	tk_wait_pid "$TK_TF_GS_PID" 5 || true
	tk_tunnel_stop "tun-$1" "$TK_TF_TK_PID"
}

# tk_tf_script_args SCRIPT: the options a script gets besides -h/-p: -n 0
# (every test, not a random sample) and -d where the script has it
# (negotiate (EC)DHE: tlskeyd never offers RSA key exchange, see
# keyd/prio.c; that refusal has tests of its own in test/softhsm/rsa-kx.sh).
tk_tf_script_args() {
	local f=$1
	printf '%s\n' -n 0
	grep -E 'getopt\(argv, "[^"]*d([^:"]|")' "$f" >/dev/null && printf '%s\n' -d
	grep -F '"reply-AD-size="' "$f" >/dev/null && printf '%s\n' --reply-AD-size "$TK_TF_REPLY_SIZE"
	return 0
}

# tk_tf_run SIDE PORT SCRIPT: run one tlsfuzzer script (test-foo-bar) whole
# against 127.0.0.1:PORT, bounded; output in tf-SIDE-SCRIPT.out, per-test
# results (NAME<TAB>OK|FAIL, one line per name, FAIL if any run of it
# failed) in tf-SIDE-SCRIPT.res.
tk_tf_run() {
	local side=$1 port=$2 script=$3 f out rc=0 args
	f=$TK_TF_DIR/tlsfuzzer/tlsfuzzer/_apps/$(printf '%s' "$script" | tr - _).py
	[ -r "$f" ] || tk_fail "no tlsfuzzer script $script ($f)"
	out=$TK_TMP/tf-$side-$script
	mapfile -t args < <(tk_tf_script_args "$f")
	PYTHONPATH=$TK_TF_DIR/tlslite-ng:$TK_TF_DIR/tlsfuzzer \
		timeout "$TK_TF_SCRIPT_LIMIT" "$TK_TF_PY" "$f" -h 127.0.0.1 -p "$port" "${args[@]}" \
		</dev/null >"$out.out" 2>&1 || rc=$?
	[ "$rc" = 124 ] && tk_fail "$script against $side took over $TK_TF_SCRIPT_LIMIT s"
	# tlsfuzzer prints "NAME ..." before each test, then "OK" or "Error
	# while processing" (and a traceback); the summary follows "Test end".
	awk '
		/^Test end$/ { done = 1 }
		done { next }
		/ \.\.\.$/ { cur = substr($0, 1, length($0) - 4); if (!(cur in r)) { r[cur] = "FAIL"; o[++n] = cur } seen[cur]++; ok[cur] += 0; next }
		$0 == "OK" && cur != "" { ok[cur]++; cur = ""; next }
		END { for (i = 1; i <= n; i++) printf "%s\t%s\n", o[i], (ok[o[i]] == seen[o[i]]) ? "OK" : "FAIL" }
	' "$out.out" >"$out.res"
	[ -s "$out.res" ] || { tail -n 20 "$out.out" >&2; tk_fail "$script against $side ran no test (exit $rc)"; }
}

# tk_tf_summary SIDE SCRIPT: "PASS/TOTAL" from tlsfuzzer's own summary.
tk_tf_summary() {
	awk '/^PASS: / { p = $2 } /^TOTAL: / { t = $2 } END { printf "%s/%s", p, t }' \
		"$TK_TMP/tf-$1-$2.out"
}

# tk_tf_compare KEY SCRIPT...: for each script, run it against gnutls-serv
# and through tlskeyd (key KEY), print the counts of both sides and every
# difference; a test that passes against gnutls-serv and fails through
# tlskeyd counts in TK_TF_DIFFS unless it is a listed exception.
tk_tf_compare() {
	local key=$1 s name res gres tres t0 g_ok t_ok total diff exc gpid
	shift
	tk_tf_servers "$key"
	for s in "$@"; do
		t0=$(date +%s)
		# Both sides at once: they are independent servers, and the long
		# scripts then take half the time.  The subshell does not run the
		# EXIT trap (tk_cleanup); its failure comes back through wait, and
		# it ends by itself (tk_tf_run is bounded by timeout).
		(
			trap - EXIT
			tk_tf_run "gs-$key" "$TK_TF_GS_PORT" "$s"
		) &
		gpid=$!
		tk_tf_run "tk-$key" "$TK_TF_TK_PORT" "$s"
		wait "$gpid" || tk_fail "$s against gnutls-serv failed to run"
		gres=$TK_TMP/tf-gs-$key-$s.res
		tres=$TK_TMP/tf-tk-$key-$s.res
		total=$(wc -l <"$gres")
		g_ok=$(grep -c $'\tOK$' "$gres" || true)
		t_ok=$(grep -c $'\tOK$' "$tres" || true)
		diff=0 exc=0
		while IFS=$'\t' read -r name res; do
			[ "$res" = OK ] || continue
			if grep -F -x -- "$name"$'\tOK' "$tres" >/dev/null; then
				continue
			fi
			if tk_tf_is_exception "$key" "$s" "$name"; then
				exc=$((exc + 1))
				continue
			fi
			diff=$((diff + 1))
			echo "DIFF [$key] $s: '$name': passes against gnutls-serv, fails through tlskeyd" >&2
			awk -v n="$name ..." '$0 == n { p = 1 } p { print "    " $0; if (++c > 25) exit }' \
				"$TK_TMP/tf-tk-$key-$s.out" >&2
		done <"$gres"
		while IFS=$'\t' read -r name res; do
			[ "$res" = OK ] || continue
			grep -F -x -- "$name"$'\tOK' "$gres" >/dev/null ||
				echo "NOTE [$key] $s: '$name': passes through tlskeyd, fails against gnutls-serv" >&2
		done <"$tres"
		# Counts per distinct test name (tlsfuzzer's own PASS/TOTAL count
		# "sanity" each time it runs; they follow in brackets).
		printf 'CONFORMANCE [%s] %-36s gnutls-serv %4s/%-4s [%s] tlskeyd %4s/%-4s [%s] differences %s (documented %s) %ss\n' \
			"$key" "$s" "$g_ok" "$total" "$(tk_tf_summary "gs-$key" "$s")" \
			"$t_ok" "$(wc -l <"$tres")" "$(tk_tf_summary "tk-$key" "$s")" "$diff" "$exc" \
			"$(($(date +%s) - t0))" >&2
		[ "$diff" = 0 ] || tk_tf_unusual "$key"
		TK_TF_DIFFS=$((TK_TF_DIFFS + diff))
		tk_daemon_alive
	done
	tk_tf_servers_stop "$key"
}

# tk_tf_unusual KEY: after a difference, what the tunnel and the daemon
# logged besides the expected refusals of tlsfuzzer's malformed hellos
# (a handshake that failed with EPROTO, ECONNABORTED, EKEYREJECTED or
# ECONNRESET; a child that exited 0), the
# last lines of each: a difference that depends on timing (a refusal, a
# reset) shows there, and a failed CI run keeps only this output.
tk_tf_unusual() {
	local re='errno=(EPROTO|ECONNABORTED|EKEYREJECTED|ECONNRESET) |end=(exit:0|eof|close)$'
	echo "--- tun-$1.log, lines other than the expected failures (last 15):" >&2
	grep -v -E "$re" "$TK_TMP/tun-$1.log" | tail -n 15 >&2 || true
	echo "--- tlskeyd.log, warnings other than the expected failures (last 15):" >&2
	grep -E ': (warning|err|crit|alert|emerg): ' "$TK_TMP/tlskeyd.log" |
		grep -v -E 'result=(EPROTO|ECONNABORTED|EKEYREJECTED|ECONNRESET) ' | tail -n 15 >&2 || true
}

# tk_tf_done: the daemon still serves, and no undocumented difference.
tk_tf_done() {
	tk_legit_check tf
	[ "$TK_TF_DIFFS" = 0 ] || tk_fail "$TK_TF_DIFFS tlsfuzzer test(s) pass against gnutls-serv and fail through tlskeyd"
	tk_pass
}

# tk_tf_expect_ok KEY SCRIPT NAME...: through tlskeyd only (servers from
# tk_tf_servers KEY), run the named tests of SCRIPT; each must pass.
tk_tf_expect_ok() {
	local key=$1 s=$2 name side f out rc=0 args
	shift 2
	side=tk-$key-only
	f=$TK_TF_DIR/tlsfuzzer/tlsfuzzer/_apps/$(printf '%s' "$s" | tr - _).py
	out=$TK_TMP/tf-$side-$s
	mapfile -t args < <(tk_tf_script_args "$f")
	PYTHONPATH=$TK_TF_DIR/tlslite-ng:$TK_TF_DIR/tlsfuzzer \
		timeout "$TK_TF_SCRIPT_LIMIT" "$TK_TF_PY" "$f" -h 127.0.0.1 -p "$TK_TF_TK_PORT" "${args[@]}" \
		"$@" </dev/null >"$out.out" 2>&1 || rc=$?
	for name in "$@"; do
		if ! awk -v n="$name ..." '$0 == n { getline; if ($0 == "OK") ok = 1; else bad = 1 } END { exit !(ok && !bad) }' "$out.out"; then
			awk -v n="$name ..." '$0 == n { p = 1 } p { print "    " $0; if (++c > 25) exit }' "$out.out" >&2
			tk_fail "[$key] $s: '$name' fails through tlskeyd"
		fi
		tk_log "[$key] $s: '$name': OK"
	done
	tk_daemon_alive
}
