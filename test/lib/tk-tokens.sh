# Part of test/lib/tk.sh (sourced by it): helpers for the token tests
# (test/tokens/): tlskeyd with keys on tokens other than the fixture's one
# SoftHSM token.
#
#   tk_need_pkg PKG FILE...    FILE (absolute path, or a command name)
#                               comes from Debian package PKG.  Missing:
#                               skip (exit 77) if PKG is not installable
#                               here, else fail: CI installs it with
#                               tools/install-deps.sh --test
#   tk_token_issue NAME PUBKEY BODY  a certificate $TK_TMP/NAME.pem for PUBKEY
#                               (PEM) from the fixture's test CA
#   tk_token_conf FILE MODULE [LINES...]
#                               a daemon configuration using only MODULE,
#                               the fixture's socket, ACL and CA; LINES
#                               (identity sections) appended
#   tk_token_identity NAME KEY-URI CERT PIN-FILE
#                               print an [identity] section
#   tk_token_server_case NAME MYNAME the app is the TLS server (tk-app server,
#                               --echo); gnutls-cli the remote client with
#                               peer-user's certificate (bob@example.test)
#   tk_token_client_case NAME MYNAME the app is the TLS client; gnutls-serv the
#                               remote server (peer-server) requiring and
#                               verifying the app's certificate
#   tk_secs                    seconds since the test started
#
# Tests that need extra packages never install them themselves.
TOK_T0=$(date +%s%N)

tk_secs() {
	local now
	now=$(date +%s%N)
	printf '%d.%02d' $(((now - TOK_T0) / 1000000000)) $((((now - TOK_T0) / 10000000) % 100))
}

tk_need_pkg() {
	local pkg=$1 f missing= cand
	shift
	for f in "$@"; do
		case $f in
		/*) [ -e "$f" ] || missing=$f ;;
		*) command -v "$f" >/dev/null 2>&1 || missing=$f ;;
		esac
		[ -z "$missing" ] || break
	done
	[ -n "$missing" ] || return 0
	cand=
	if command -v apt-cache >/dev/null 2>&1; then
		cand=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	fi
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		tk_skip "$missing not found, and the Debian package $pkg is not installable here"
	fi
	tk_fail "$missing not found: install the Debian package $pkg ($cand)" \
		"with tools/install-deps.sh --test"
}

tk_token_issue() {
	local name=$1 pub=$2 body=$3
	printf 'serial = %d\n%s\nexpiration_days = 30\n' "$((1000 + RANDOM))" "$body" \
		>"$TK_TMP/$name.tmpl"
	tk_cert_issue "$TK_TMP/$name.pem" "$TK_TMP/$name.tmpl" "$TK_FX/ca.pem" "$TK_FX/ca.key" \
		--load-pubkey "$pub" >>"$TK_TMP/certtool.log" 2>&1 || {
		tail -n 20 "$TK_TMP/certtool.log" >&2
		tk_fail "certtool could not issue $name"
	}
	certtool --verify --load-ca-certificate "$TK_FX/ca.pem" --infile "$TK_TMP/$name.pem" \
		</dev/null >>"$TK_TMP/certtool.log" 2>&1 || tk_fail "$name.pem does not verify"
}

# Server and user certificate template bodies (see the fixture: no
# tls_www_server in user certificates, or certtool drops the email SAN).
tk_server_body() { printf 'cn = "%s"\ndns_name = %s\nsigning_key\ntls_www_server\ntls_www_client\n' "$1" "$1"; }
tk_user_body() { printf 'cn = "%s"\nemail = %s\nsigning_key\ntls_www_client\n' "$1" "$1"; }

tk_token_conf() {
	local file=$1 module=$2
	shift 2
	# The fixture's global settings, with the module replaced.
	{
		echo "# written by test/tokens/$TK_NAME.sh from $TK_FX/tlskeyd.conf"
		sed -e '/^#/d' -e '/^\[identity /,$d' -e "s#^pkcs11-module = .*#pkcs11-module = $module#" \
			"$TK_FX/tlskeyd.conf"
		printf '%s\n' "$@"
	} >"$file"
}

tk_token_identity() {
	printf '\n[identity %s]\nkey = %s\ncert = %s\npin-file = %s\n' "$1" "$2" "$3" "$4"
}

# Data the remote peers send and expect back.
tk_token_data() {
	[ -s "$TK_TMP/data" ] ||
		tk_lines "$TK_TMP/data" 500 "line through a token-backed session " >/dev/null
}

tk_token_server_case() {
	local name=$1 myname=$2 rc=0 want
	tk_token_data
	want=$(wc -c <"$TK_TMP/data")
	tk_log "case $name: app server $myname <- gnutls-cli (bob@example.test) [$(tk_secs)s]"
	tk_app_server "$name-s" --myname "$myname" --echo
	tk_fifo_client "$name-c" "$TK_TMP/data" "$want" gnutls-cli --logfile="$TK_TMP/$name-c.log" \
		--port "$TK_PORT" --x509cafile "$TK_FX/ca.pem" \
		--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
		--verify-hostname "$myname" --sni-hostname "$myname" 127.0.0.1 || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$TK_TMP/$name-c.log" "$TK_TMP/$name-s.err" >&2
		tk_fail "$name: gnutls-cli exit $rc"
	fi
	tk_wait_ok "$TK_SERVER_PID" 20 "$name: tk-app server" "$TK_TMP/$name-s.err"
	tk_expect_line "$TK_TMP/$name-s.err" "PEER=bob@example.test"
	tk_same "$TK_TMP/data" "$TK_TMP/$name-c.out"
	tk_daemon_alive
}

tk_token_client_case() {
	local name=$1 myname=$2 rc=0
	tk_token_data
	tk_log "case $name: app client $myname -> gnutls-serv (peer.example.test) [$(tk_secs)s]"
	tk_start_gnutls_serv "$name-srv" \
		--x509certfile "$TK_FX/peer-server.pem" --x509keyfile "$TK_FX/peer-server.key"
	cp "$TK_TMP/data" "$TK_TMP/$name.in"
	tk_app "$name" client --connect "127.0.0.1:$TK_PORT" --myname "$myname" \
		--sni peer.example.test || rc=$?
	kill "$TK_PEER_PID" 2>/dev/null || true
	tk_wait_pid "$TK_PEER_PID" 5 || true
	[ "$rc" = 0 ] || { cat "$TK_TMP/$name.err" "$TK_TMP/$name-srv.out" >&2; tk_fail "$name: tk-app exit $rc"; }
	tk_expect_line "$TK_TMP/$name.err" "PEER=peer.example.test"
	tk_same "$TK_TMP/data" "$TK_TMP/$name.out"
	# gnutls-serv verified the app's certificate chain.
	tk_expect_grep "$TK_TMP/$name-srv.out" "$myname"
	tk_daemon_alive
}

# tk_token_key_flags MODULE URI PIN-FILE LABEL: the private key LABEL is
# CKA_SENSITIVE and not CKA_EXTRACTABLE (p11tool prints the flag only when
# it is true).
tk_token_key_flags() {
	local module=$1 uri=$2 pinf=$3 label=$4 listing flags why
	listing=$(GNUTLS_PIN=$(cat "$pinf") p11tool --provider "$module" --login \
		--list-all-privkeys "$uri" </dev/null 2>>"$TK_TMP/p11tool.log") ||
		tk_fail "p11tool cannot list the private keys of $uri"
	flags=$(printf '%s\n' "$listing" | tk_key_flags "$label")
	if why=$(tk_key_flags_bad "$flags"); then
		tk_fail "private key $label on $uri: $why"
	fi
	tk_log "key $label: $flags"
}
