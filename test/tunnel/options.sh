#!/bin/bash
# tlskey-tunnel option and configuration file handling, no daemon needed:
# every bad command line or file exits 2 with a message naming the
# problem (a file others may write, or in a directory they may write, is
# refused); --help exits 0; a good configuration starts, listens and stops
# on SIGTERM with status 0.
. "${top_srcdir:-.}/test/lib/tk.sh"
TK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlskeyd-$TK_NAME.XXXXXX")
trap tk_cleanup EXIT

# bad NAME ERE ARGS...: tlskey-tunnel ARGS must exit 2 and print ERE.
bad() {
	local name=$1 ere=$2 rc=0
	shift 2
	timeout 10 "$TT_TUNNEL" "$@" >"$TK_TMP/$name.out" 2>"$TK_TMP/$name.err" </dev/null || rc=$?
	[ "$rc" = 2 ] || { cat "$TK_TMP/$name.err" >&2; tk_fail "$name: exit $rc, wanted 2"; }
	tk_expect_grep "$TK_TMP/$name.err" "$ere"
}
S=(--mode server --listen 127.0.0.1:0 --myname server.example.test)
C=(--mode client --listen 127.0.0.1:0 --myname alice@example.test)

bad no-args 'missing: --mode'
bad unknown-option "unrecognized option '--bogus'" --bogus
bad bad-mode "--mode: expected 'server' or 'client', got 'proxy'" --mode proxy
bad no-myname '--myname: missing' --mode server --listen 127.0.0.1:0 --backend 127.0.0.1:1
bad no-listen '--listen: missing' --mode server --myname a.example.test --backend 127.0.0.1:1
bad no-backend 'server mode needs --backend ADDR or --exec PROGRAM' "${S[@]}"
bad both-backends '--backend and --exec exclude each other' "${S[@]}" --backend 127.0.0.1:1 --exec /bin/cat
bad exec-relative 'must be an absolute path' "${S[@]}" --exec cat
bad exec-empty '--exec: needs a program' "${S[@]}" --exec
bad proxy-exec '--proxy-v2: is for --backend' "${S[@]}" --proxy-v2 --exec /bin/cat
bad server-unix 'server mode listens on TCP' --mode server --listen unix:/tmp/x --myname a.test --backend 127.0.0.1:1
bad server-sni '--sni: is for client mode' "${S[@]}" --backend 127.0.0.1:1 --sni a.test
bad server-flag '--flags: no-local-cert is for client mode' "${S[@]}" --backend 127.0.0.1:1 --flags no-local-cert
bad client-flag '--flags: .*are for server mode' "${C[@]}" --connect 127.0.0.1:1 --flags no-require-peer-cert
bad client-connect 'client mode needs --connect' "${C[@]}"
bad client-proxy '--proxy-v2: is for server mode' "${C[@]}" --connect 127.0.0.1:1 --proxy-v2
bad unknown-flag "--flags: unknown or repeated flag in 'no-such-flag'" "${S[@]}" --backend 127.0.0.1:1 --flags no-such-flag
bad repeated-flag 'unknown or repeated flag' "${S[@]}" --backend 127.0.0.1:1 --flags no-cache-read,no-cache-read
bad bad-port 'expected HOST:PORT' "${S[@]}" --backend 127.0.0.1:99999
bad bare-ipv6 'expected HOST:PORT' "${S[@]}" --backend ::1:80
bad connect-unix '--connect: expected HOST:PORT or \[IPV6\]:PORT' "${C[@]}" --connect unix:/tmp/x
bad unresolvable "cannot resolve 'no-such-host.invalid:80'" "${S[@]}" --backend no-such-host.invalid:80
bad max-conns-0 '--max-conns: expected 1 to 65536' "${S[@]}" --backend 127.0.0.1:1 --max-conns 0
bad max-conns-big '--max-conns: expected 1 to 65536' "${S[@]}" --backend 127.0.0.1:1 --max-conns 65537
bad timeout-unit '--timeout: expected' "${S[@]}" --backend 127.0.0.1:1 --timeout 5min
bad timeout-big '--timeout: expected' "${S[@]}" --backend 127.0.0.1:1 --timeout 3601s
bad idle-big '--idle-timeout: expected' "${S[@]}" --backend 127.0.0.1:1 --idle-timeout 604801s
bad idle-unit '--idle-timeout: expected' "${S[@]}" --backend 127.0.0.1:1 --idle-timeout 1h
bad sni-allow-pattern "--sni-allow: 'a\\*b' is not a host name" "${S[@]}" --backend 127.0.0.1:1 --sni-allow 'ok.test,a*b'
bad sni-allow-empty '--sni-allow: each name must be' "${S[@]}" --backend 127.0.0.1:1 --sni-allow 'a.test,,b.test'
bad client-sni-allow '--sni-allow: is for server mode' "${C[@]}" --connect 127.0.0.1:1 --sni-allow a.test
bad myname-space '--myname: invalid character' --mode server --listen 127.0.0.1:0 --myname 'a b' --backend 127.0.0.1:1
bad stray-arg "unexpected argument 'extra'" "${S[@]}" --backend 127.0.0.1:1 extra
bad no-config 'nonexistent.conf: No such file or directory' --config "$TK_TMP/nonexistent.conf"

# Configuration files: errors name the file and line.
printf 'mode = server\nlisten = 127.0.0.1:0\nbogus = 1\n' >"$TK_TMP/unknown.conf"
bad conf-unknown "unknown.conf:3: bogus: unknown setting" --config "$TK_TMP/unknown.conf"
printf 'mode = server\nlisten 127.0.0.1:0\n' >"$TK_TMP/noeq.conf"
bad conf-noeq "noeq.conf:2: : expected 'key = value'" --config "$TK_TMP/noeq.conf"
printf 'mode =\n' >"$TK_TMP/empty.conf"
bad conf-empty "empty.conf:1: mode: empty value" --config "$TK_TMP/empty.conf"
printf 'config = /etc/x\n' >"$TK_TMP/nested.conf"
bad conf-nested "nested.conf:1: config: cannot be nested" --config "$TK_TMP/nested.conf"
printf 'mode = server\001\n' >"$TK_TMP/ctrl.conf"
bad conf-ctrl "ctrl.conf:1: : control character" --config "$TK_TMP/ctrl.conf"
head -c 70000 /dev/zero | tr '\0' '#' >"$TK_TMP/huge.conf"
bad conf-huge "not a regular file of at most 65536 bytes" --config "$TK_TMP/huge.conf"
bad conf-dir "not a regular file" --config "$TK_TMP"
{ printf 'myname = '; head -c 5000 /dev/zero | tr '\0' a; printf '\n'; } >"$TK_TMP/longline.conf"
bad conf-longline "longline.conf:1: : line longer than 4096 bytes" --config "$TK_TMP/longline.conf"

# A file others may write, or one in a directory they may write, or owned
# by another account, is refused before it is read (it names the backend,
# the identity and --exec programs): tk_file_trusted(), as tlskeyd judges
# its own files.  A good file in the same places works (below).
printf 'mode = server\n' >"$TK_TMP/open.conf"
chmod 0666 "$TK_TMP/open.conf"
bad conf-mode "refusing configuration file .*open\.conf: writable by group or others \(mode 0666\): whoever may write it chooses the backend, the identity and --exec programs" \
	--config "$TK_TMP/open.conf"
mkdir -m 0777 "$TK_TMP/opendir"
chmod 0777 "$TK_TMP/opendir" # whatever the umask
printf 'mode = server\n' >"$TK_TMP/opendir/t.conf"
bad conf-dir-mode "refusing configuration file .*opendir/t\.conf: its directory .*opendir is writable by group or others \(mode 0777\)" \
	--config "$TK_TMP/opendir/t.conf"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	printf 'mode = server\n' >"$TK_TMP/theirs.conf"
	chown nobody "$TK_TMP/theirs.conf"
	bad conf-owner "refusing configuration file .*theirs\.conf: owned by uid $(id -u nobody), expected root or uid 0" \
		--config "$TK_TMP/theirs.conf"
else
	tk_log "not root: the file-owner case is skipped"
fi
# Control: the same contents, mode 0644 in a 0755 directory, are read
# (the next problem is the missing myname).
chmod 0644 "$TK_TMP/open.conf"
chmod 0755 "$TK_TMP/opendir"
bad conf-trusted "^tlskey-tunnel: --myname: missing$" --config "$TK_TMP/open.conf"
bad conf-trusted-dir "^tlskey-tunnel: --myname: missing$" --config "$TK_TMP/opendir/t.conf"

# --help and --version.
"$TT_TUNNEL" --help >"$TK_TMP/help.out" || tk_fail "--help failed"
tk_expect_grep "$TK_TMP/help.out" '^Usage: tlskey-tunnel'
"$TT_TUNNEL" --version >"$TK_TMP/version.out" || tk_fail "--version failed"
tk_expect_grep "$TK_TMP/version.out" '^tlskey-tunnel [0-9]'

# A good file (etc/tunnel-example.conf style, with CRLF and comments) starts
# and stops; the command line overrides its listen address.
printf '# comment\r\n\r\nmode = client\r\n  listen=127.0.0.1:1\r\nconnect = 127.0.0.1:1\r\nmyname = alice@example.test\r\nsni = peer.example.test\r\nexec = /bin/cat -u\r\n' \
	>"$TK_TMP/good.conf"
bad conf-exec-client '--exec: is for server mode' --config "$TK_TMP/good.conf"
sed -i '/^exec/d' "$TK_TMP/good.conf"
tk_tunnel good --config "$TK_TMP/good.conf" --listen 127.0.0.1:0
tk_expect_grep "$TK_TMP/good.log" "client mode: plaintext on 127\.0\.0\.1:$TT_PORT, TLS to 127\.0\.0\.1:1 as alice@example\.test, sni peer\.example\.test"
tk_tunnel_stop good "$TT_PID"

# The shipped example is valid (its port 993 and backend are overridden).
tk_tunnel example --config "$top_srcdir/etc/tunnel-example.conf" --listen 127.0.0.1:0 \
	--backend 127.0.0.1:1
tk_expect_grep "$TK_TMP/example.log" "server mode: TLS on 127\.0\.0\.1:$TT_PORT as imap\.example\.test, backend 127\.0\.0\.1:1 with PROXY v2"
tk_tunnel_stop example "$TT_PID"

# No drift between the code and the manual: every long option of
# tools/tunnel/conf.c is in tlskey-tunnel(1).
if command -v groff >/dev/null 2>&1; then
	groff -man -Tutf8 -P-c "$top_srcdir/doc/man/tlskey-tunnel.1" 2>/dev/null |
		sed 's/.\x08//g; s/‐/-/g' >"$TK_TMP/man.txt"
	opts=$(grep -oE '\{ "[a-z0-9-]+", (no|required)_argument' "$top_srcdir/tools/tunnel/conf.c" |
		sed -E 's/\{ "([a-z0-9-]+)".*/\1/')
	[ -n "$opts" ] || tk_fail "found no options in tools/tunnel/conf.c"
	for o in $opts exec; do
		grep -q -- "--$o" "$TK_TMP/man.txt" || tk_fail "tlskey-tunnel(1) does not describe --$o"
	done
fi

tk_log "PASS"
exit 0
