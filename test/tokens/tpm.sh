#!/bin/bash
# Keys in a TPM 2.0: a software TPM (swtpm, TCP on loopback) behind the
# TPM2 access broker and resource manager (tpm2-abrmd, on a private D-Bus
# session bus) and tpm2-pkcs11.  A TPM holds only about three transient
# objects at once; like /dev/tpmrm0 on a real machine, the resource
# manager swaps them, so that several keys (and each worker's session) can
# be used at once.  The test creates a token and two ECDSA P-256 keys in
# the TPM through the PKCS#11 module itself (p11tool --initialize,
# --initialize-pin, --generate-privkey), issues certificates for them from
# the fixture's CA, and runs tlskeyd with `pkcs11-module = libtpm2_pkcs11.so`
# (TCTI, store and bus address passed in its environment):
#   - the keys are CKA_SENSITIVE and not CKA_EXTRACTABLE, and the daemon's
#     start-up probe (login + test signature) finds them usable;
#   - the app as TLS server (TLS 1.3 and 1.2), gnutls-cli the remote client
#     with a client certificate; the app as TLS client against gnutls-serv
#     requiring and verifying the app's certificate;
#   - several handshakes with both keys, so that both workers import both.
# Packages (tools/install-deps.sh --test): swtpm, libtpm2-pkcs11-1,
# tpm2-abrmd, libtss2-tcti-tabrmd0, libtss2-tcti-swtpm0, dbus-daemon.
. "${top_srcdir:-.}/test/lib/tk.sh"

TPM_MODULE=${TK_TPM2_MODULE:-}
if [ -z "$TPM_MODULE" ]; then
	for m in /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so \
		/usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so \
		/usr/lib64/pkcs11/libtpm2_pkcs11.so \
		/usr/lib/pkcs11/libtpm2_pkcs11.so; do
		[ -e "$m" ] && { TPM_MODULE=$m; break; }
	done
fi
tk_need gnutls-cli gnutls-serv
tk_need_pkg swtpm swtpm
tk_need_pkg libtpm2-pkcs11-1 "${TPM_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}"
ABRMD=$(command -v tpm2-abrmd || echo /usr/sbin/tpm2-abrmd)
tk_need_pkg tpm2-abrmd "$ABRMD"
tk_need_pkg dbus-daemon dbus-daemon
tcti_lib() { # NAME: the TCTI library libtss2-tcti-NAME.so.0 exists
	ls /usr/lib/*/libtss2-tcti-"$1".so.0 /usr/lib64/libtss2-tcti-"$1".so.0 >/dev/null 2>&1
}
tcti_lib swtpm || tk_need_pkg libtss2-tcti-swtpm0 /usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0
tcti_lib tabrmd || tk_need_pkg libtss2-tcti-tabrmd0 /usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0
tk_setup --no-daemon

# ---- the software TPM --------------------------------------------------
TPM_DIR=$TK_TMP/tpm
mkdir -m 0700 "$TPM_DIR" "$TPM_DIR/state" "$TPM_DIR/store"
# start_swtpm: data port P and control port P+1 on loopback, both free.
start_swtpm() {
	TK_PEER_STDIN=/dev/null tk_start_peer swtpm swtpm socket --tpm2 --tpmstate "dir=$TPM_DIR/state" \
		--server "type=tcp,port=PORT,bindaddr=127.0.0.1" \
		--ctrl "type=tcp,port=NEXTPORT,bindaddr=127.0.0.1" \
		--flags not-need-init,startup-clear
	SWTPM_PID=$TK_PEER_PID
	SWTPM_PORT=$TK_PORT
}
start_swtpm

# The access broker, on a D-Bus session bus of our own.
tk_bg dbus-daemon --session --address="unix:path=$TPM_DIR/bus" --nofork --nopidfile \
	</dev/null >"$TK_TMP/dbus.log" 2>&1
DBUS_PID=$TK_BG_PID
for _ in $(seq 50); do
	[ -S "$TPM_DIR/bus" ] && break
	kill -0 "$DBUS_PID" 2>/dev/null || break
	sleep 0.1
done
[ -S "$TPM_DIR/bus" ] || { cat "$TK_TMP/dbus.log" >&2; tk_fail "dbus-daemon did not start"; }
export DBUS_SESSION_BUS_ADDRESS="unix:path=$TPM_DIR/bus"
BUS_NAME=com.intel.tss2.Tabrmd.tlskeyd$$
# --allow-root: CI runs the tests as root; a real deployment runs
# tpm2-abrmd as the tss user (the Debian unit does).
tk_bg "$ABRMD" --session --allow-root --dbus-name="$BUS_NAME" --flush-all \
	--tcti="swtpm:host=127.0.0.1,port=$SWTPM_PORT" </dev/null >"$TK_TMP/abrmd.log" 2>&1
ABRMD_PID=$TK_BG_PID

# tpm2-pkcs11 keeps its token metadata (and the TPM-wrapped key blobs) in
# an SQLite store; the TCTI says how to reach the TPM.  The daemon
# inherits both (and the bus address).
export TPM2_PKCS11_STORE=$TPM_DIR/store
export TPM2_PKCS11_TCTI="tabrmd:bus_name=$BUS_NAME,bus_type=session"
export TPM2_PKCS11_LOG_LEVEL=${TPM2_PKCS11_LOG_LEVEL:-1}

# Ready when the module sees the TPM through the broker (bounded).
slot=
for _ in $(seq 50); do
	kill -0 "$ABRMD_PID" 2>/dev/null || break
	slot=$(p11tool --provider "$TPM_MODULE" --list-token-urls </dev/null 2>>"$TK_TMP/p11tool.log" | head -n 1)
	[ -n "$slot" ] && break
	sleep 0.2
done
if [ -z "$slot" ]; then
	cat "$TK_TMP/abrmd.log" "$TK_TMP/swtpm.err" >&2
	tail -n 20 "$TK_TMP/p11tool.log" >&2
	tk_fail "tpm2-pkcs11 sees no TPM slot through tpm2-abrmd ($TPM2_PKCS11_TCTI)"
fi
tk_log "swtpm on 127.0.0.1:$SWTPM_PORT, tpm2-abrmd as $BUS_NAME [$(tk_secs)s]"

randpin() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
(umask 077 && randpin >"$TPM_DIR/pin" && randpin >"$TPM_DIR/so-pin")
TPM_LABEL=tlskeyd-tpm
TPM_URI="pkcs11:token=$TPM_LABEL"

p11() { # ARGS...: p11tool on the TPM module, quiet unless it fails
	p11tool --provider "$TPM_MODULE" "$@" </dev/null >>"$TK_TMP/p11tool.log" 2>&1 || {
		tail -n 20 "$TK_TMP/p11tool.log" >&2
		tk_fail "p11tool $* failed"
	}
}

# An empty store shows one uninitialised slot; C_InitToken on it creates
# the primary key and the token.
GNUTLS_SO_PIN=$(cat "$TPM_DIR/so-pin") p11 --initialize --label "$TPM_LABEL" "$slot"
GNUTLS_SO_PIN=$(cat "$TPM_DIR/so-pin") GNUTLS_PIN=$(cat "$TPM_DIR/pin") \
	p11 --initialize-pin "$TPM_URI"
for key in tpm-server tpm-user; do
	GNUTLS_PIN=$(cat "$TPM_DIR/pin") p11 --login --generate-privkey=ecdsa --curve=secp256r1 \
		--label "$key" --outfile "$TPM_DIR/$key.pub" "$TPM_URI"
	tk_token_key_flags "$TPM_MODULE" "$TPM_URI" "$TPM_DIR/pin" "$key"
done
tk_log "TPM token and keys created [$(tk_secs)s]"

tk_token_issue tpm-server "$TPM_DIR/tpm-server.pub" "$(tk_server_body tpm.example.test)"
tk_token_issue tpm-user "$TPM_DIR/tpm-user.pub" "$(tk_user_body tpmuser@example.test)"

tk_token_conf "$TK_TMP/tpm.conf" "$TPM_MODULE" \
	"$(tk_token_identity tpm.example.test "$TPM_URI;object=tpm-server;type=private" \
		"$TK_TMP/tpm-server.pem" "$TPM_DIR/pin")" \
	"$(tk_token_identity tpmuser@example.test "$TPM_URI;object=tpm-user;type=private" \
		"$TK_TMP/tpm-user.pem" "$TPM_DIR/pin")"
tk_daemon_start "$TK_TMP/tpm.conf" || tk_fail "tlskeyd did not start with the TPM module"
if grep -E 'not usable now|extractable or not sensitive' "$TK_TMP/tlskeyd.log" >&2; then
	tk_fail "the daemon's start-up probe did not find the TPM keys usable and non-extractable"
fi

# A certificate from the token's own public key must match the private key
# the daemon signs with; the handshakes prove that.
for i in 1 2 3; do
	tk_token_server_case "srv$i" tpm.example.test
done
tk_log "case tls12 [$(tk_secs)s]"
rc=0
tk_app_server tls12-s --myname tpm.example.test --echo
tk_fifo_client tls12-c "$TK_TMP/data" "$(wc -c <"$TK_TMP/data")" gnutls-cli \
	--logfile="$TK_TMP/tls12-c.log" --port "$TK_PORT" --priority NORMAL:-VERS-ALL:+VERS-TLS1.2 \
	--x509cafile "$TK_FX/ca.pem" \
	--x509certfile "$TK_FX/peer-user.pem" --x509keyfile "$TK_FX/peer-user.key" \
	--verify-hostname tpm.example.test 127.0.0.1 || rc=$?
[ "$rc" = 0 ] || { cat "$TK_TMP/tls12-c.log" >&2; tk_fail "tls12: gnutls-cli exit $rc"; }
tk_wait_pid "$TK_SERVER_PID" 20 || tk_fail "tls12: tk-app server failed"
tk_expect_grep "$TK_TMP/tls12-c.log" 'Description: \(TLS1\.2-'
tk_same "$TK_TMP/data" "$TK_TMP/tls12-c.out"

for i in 1 2 3; do
	tk_token_client_case "cli$i" tpmuser@example.test
done
# SIGHUP reloads the ACL.  The module has started threads of its own
# (tpm2-abrmd's TCTI runs a GDBus thread); a signal must still reach the
# daemon's signalfd, not kill the process.
tk_log "case sighup: ACL reload with the TPM module loaded [$(tk_secs)s]"
grep -c 'ACL loaded from' "$TK_TMP/tlskeyd.log" >"$TK_TMP/reloads.before" || true
kill -HUP "$TK_DAEMON_PID"
for _ in $(seq 50); do
	[ "$(grep -c 'ACL loaded from' "$TK_TMP/tlskeyd.log" || true)" -gt "$(cat "$TK_TMP/reloads.before")" ] && break
	kill -0 "$TK_DAEMON_PID" 2>/dev/null || break
	sleep 0.1
done
if ! kill -0 "$TK_DAEMON_PID" 2>/dev/null; then
	rc=0
	wait "$TK_DAEMON_PID" || rc=$?
	TK_DAEMON_PID=
	tk_fail "SIGHUP killed tlskeyd (exit status $rc): a thread started by the PKCS#11" \
		"module does not block the signals the daemon takes through signalfd"
fi
tk_expect_grep "$TK_TMP/tlskeyd.log" 'ACL loaded from'

# Both keys in turn, on both workers.
tk_token_server_case mix1 tpm.example.test
tk_token_client_case mix2 tpmuser@example.test
tk_token_server_case mix3 tpm.example.test

if grep -E 'failed a signature|cannot use key' "$TK_TMP/tlskeyd.log" >&2; then
	tk_fail "the daemon reported token failures"
fi
tk_log "done [$(tk_secs)s]"
# tk_pass checks that SIGTERM makes the daemon exit cleanly (status 0).
tk_pass
