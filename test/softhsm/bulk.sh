#!/bin/bash
# Bulk data with half-close: 8 MiB of random bytes each way between an app
# server and an app client, both through tlskeyd, two pairs at once (ECDSA
# and RSA identities).  Every stream is checked by SHA-256.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need sha256sum head
tk_setup

MIB=${TK_BULK_MIB:-8}
pairs="ec:server.example.test:alice@example.test rsa:rsa.example.test:carol@example.test"
for p in $pairs; do
	tag=${p%%:*}
	head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TK_TMP/$tag-s.in"
	head -c $((MIB * 1024 * 1024 + 12345)) /dev/urandom >"$TK_TMP/$tag-c.in"
done

start=$(date +%s)
cpids=()
declare -A spids
for p in $pairs; do
	IFS=: read -r tag server client <<<"$p"
	tk_app_server "$tag-s" --myname "$server"
	spids[$tag]=$TK_SERVER_PID
	tk_bg timeout 120 "$TK_APP" client --connect "127.0.0.1:$TK_PORT" --myname "$client" \
		--sni "$server" --timeout 120 \
		<"$TK_TMP/$tag-c.in" >"$TK_TMP/$tag-c.out" 2>"$TK_TMP/$tag-c.err"
	cpids+=("$TK_BG_PID")
done
i=0
for p in $pairs; do
	IFS=: read -r tag server client <<<"$p"
	tk_wait_ok "${cpids[$i]}" 120 "$tag: client" "$TK_TMP/$tag-c.err"
	tk_wait_ok "${spids[$tag]}" 60 "$tag: server" "$TK_TMP/$tag-s.err"
	i=$((i + 1))
	tk_expect_line "$TK_TMP/$tag-c.err" "PEER=$server"
	tk_expect_line "$TK_TMP/$tag-s.err" "PEER=$client"
	for d in s c; do
		o=$([ $d = s ] && echo c || echo s)
		a=$(sha256sum <"$TK_TMP/$tag-$d.in")
		b=$(sha256sum <"$TK_TMP/$tag-$o.out")
		[ "$a" = "$b" ] || tk_fail "$tag: data from $d corrupted ($(wc -c <"$TK_TMP/$tag-$o.out") bytes arrived)"
	done
done
tk_log "2 x 2 x $MIB MiB in $(($(date +%s) - start))s"
tk_daemon_alive
tk_pass
