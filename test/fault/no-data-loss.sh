#!/bin/bash
# No data lost or corrupted through the relay: transfers of 0, 1, 16383,
# 16384, 16385 bytes and 1 MiB in both directions at once (sizes paired at
# random, in random order; FAULT_SEED=N repeats a run), plus one 64 MiB
# transfer, between an app client and an app server both behind tlskeyd.
# Each side half-closes at the end of its data and reads to EOF; one side
# of each pair reads slowly (backpressure through the whole chain).  Every
# stream is checked by SHA-256.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_need sha256sum head
tk_fault_setup
SEED=${FAULT_SEED:-$$}
RANDOM=$SEED
BIG_MIB=${FAULT_BIG_MIB:-64}
tk_log "seed $SEED (FAULT_SEED=$SEED repeats this run)"

sizes=(0 1 16383 16384 16385 1048576)

# pair TAG CLIENT-BYTES SERVER-BYTES SLOW-SIDE(c|s|none) RATE
pair() {
	local tag=$1 cb=$2 sb=$3 slow=$4 rate=$5 pf i spid cpid rc cfilter=cat sfilter=cat
	head -c "$cb" /dev/urandom >"$TK_TMP/$tag-c.in"
	head -c "$sb" /dev/urandom >"$TK_TMP/$tag-s.in"
	[ "$slow" = c ] && cfilter="$FAULT_HOSTILE slowcat $rate"
	[ "$slow" = s ] && sfilter="$FAULT_HOSTILE slowcat $rate"
	pf=$TK_TMP/$tag.port
	tk_bg bash -c 'set -o pipefail; timeout 120 "$1" server --listen 127.0.0.1:0 --port-file "$2" \
		--myname server.example.test --timeout 120 <"$3" 2>"$4" | $5 >"$6"' _ \
		"$TK_APP" "$pf" "$TK_TMP/$tag-s.in" "$TK_TMP/$tag-s.err" "$sfilter" "$TK_TMP/$tag-s.out"
	spid=$TK_BG_PID
	for i in $(seq 100); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || tk_fail "$tag: app server did not start: $(cat "$TK_TMP/$tag-s.err")"
	tk_bg bash -c 'set -o pipefail; timeout 120 "$1" client --connect "127.0.0.1:$2" \
		--myname alice@example.test --sni server.example.test --timeout 120 <"$3" 2>"$4" |
		$5 >"$6"' _ "$TK_APP" "$(cat "$pf")" "$TK_TMP/$tag-c.in" "$TK_TMP/$tag-c.err" \
		"$cfilter" "$TK_TMP/$tag-c.out"
	cpid=$TK_BG_PID
	tk_wait_ok "$cpid" 150 "$tag: client" "$TK_TMP/$tag-c.err"
	tk_wait_ok "$spid" 30 "$tag: server" "$TK_TMP/$tag-s.err"
	[ "$(sha256sum <"$TK_TMP/$tag-c.in")" = "$(sha256sum <"$TK_TMP/$tag-s.out")" ] ||
		tk_fail "$tag: client->server: sent $cb bytes, $(wc -c <"$TK_TMP/$tag-s.out") arrived or content differs"
	[ "$(sha256sum <"$TK_TMP/$tag-s.in")" = "$(sha256sum <"$TK_TMP/$tag-c.out")" ] ||
		tk_fail "$tag: server->client: sent $sb bytes, $(wc -c <"$TK_TMP/$tag-c.out") arrived or content differs"
	tk_log "$tag: $cb bytes up, $sb bytes down, slow reader: $slow: OK"
	rm -f "$TK_TMP/$tag"-[cs].{in,out}
}

# Every size goes up once and down once, in random pairings.
order=($(for s in "${sizes[@]}"; do echo "$RANDOM $s"; done | sort -n | cut -d' ' -f2))
n=${#sizes[@]}
for i in $(seq 0 $((n - 1))); do
	slowside=(c s none)
	pair "p$i" "${sizes[$i]}" "${order[$i]}" "${slowside[$((RANDOM % 3))]}" 4194304
done
# One big transfer up with a slow server-side reader, 1 MiB down meanwhile.
pair big $((BIG_MIB * 1024 * 1024)) 1048576 s $((32 * 1024 * 1024))
tk_daemon_alive
tk_legit_check after
tk_pass
