#!/bin/bash
# bench/run.sh: tlskeyd benchmarks against peers measured in the same run
# (see doc/performance.md).  Not part of "make check".
#
#   make bench && bench/run.sh                  # from the build directory
#   BENCH_QUICK=1 bench/run.sh                  # ~1 minute smoke run
#   BENCH_BULK_MIB=1024 bench/run.sh            # 1 GiB each way
#
# Knobs (defaults full / quick): BENCH_HS_N at most this many handshakes
# per client process and round (100000: rounds end after BENCH_ROUND_SECS), BENCH_SLOW_N (1200 / 300), BENCH_LAT_N (1000 / 200),
# BENCH_BULK_MIB (256 / 64), BENCH_IDLE_N idle sessions (10000 / 1000),
# BENCH_ONLY="hs lat slow bulk mem" to run a subset, BENCH_HS_CONC handshakes
# in flight per client process in the handshake test (1), BENCH_ROUNDS
# alternating rounds of the handshake and latency tests (5 / 3),
# BENCH_KD_EXTRA one more "key = value" line for tlskeyd in the handshake
# test (e.g. "protected-socket = unix"), BENCH_ROUND_SECS seconds per
# handshake round (3), BENCH_ALLOW_MISSING=1 to skip the parts whose tools
# are missing instead of stopping, BENCH_PERF=0 to skip the counted rounds.
# Needs softhsm2, gnutls-bin, stunnel4, linux-perf (tools/install-deps.sh
# --bench installs them); root (or a high hard fd limit) for the
# idle-session test.  Uses 127.0.0.1 only; every wait is bounded.
# System calls and context switches are counted with perf stat, wrapped
# around the daemon, the app and the in-process server, in one extra round
# each after the rate rounds (enabled only while it runs, --control fifo);
# the rates come from processes that perf does not watch.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$PWD}
B=$top_builddir/bench
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_hs=100000 d_slow=300 d_lat=200 d_bulk=64 d_idle=1000
else d_hs=100000 d_slow=1200 d_lat=1000 d_bulk=256 d_idle=10000; fi
HS_N=${BENCH_HS_N:-$d_hs}
SLOW_N=${BENCH_SLOW_N:-$d_slow}
LAT_N=${BENCH_LAT_N:-$d_lat}
BULK_MIB=${BENCH_BULK_MIB:-$d_bulk}
IDLE_N=${BENCH_IDLE_N:-$d_idle}
ONLY=${BENCH_ONLY:-hs lat slow bulk mem}
HS_CONC=${BENCH_HS_CONC:-1}
ROUNDS=${BENCH_ROUNDS:-$([ "$QUICK" = 1 ] && echo 3 || echo 5)}
ROUND_SECS=${BENCH_ROUND_SECS:-3}
WORKERS=4 # tlskeyd workers = in-process server processes, in every test but slow
AES128="NORMAL:-CIPHER-ALL:+AES-128-GCM"

# Tools, and the Debian package each comes in: stop with a precise message
# rather than leave figures out silently.
missing=()
tool() { command -v "$1" >/dev/null || { missing+=("$1 (package $2)"); return 1; }; }
for t in certtool:gnutls-bin softhsm2-util:softhsm2 ss:iproute2 awk:gawk setsid:util-linux; do
	tool "${t%%:*}" "${t#*:}" || true
done
STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
[ -n "$STUNNEL" ] || missing+=("stunnel4 (package stunnel4)")
PERF=$(command -v perf || true)
[ "${BENCH_PERF:-1}" = 0 ] && PERF=
if [ "${BENCH_PERF:-1}" = 0 ]; then
	:
elif [ -z "$PERF" ]; then
	missing+=("perf (package linux-perf)")
elif ! "$PERF" stat -x, -e raw_syscalls:sys_enter,context-switches -o /dev/null -- true 2>/dev/null; then
	missing+=("a usable perf (perf stat -e raw_syscalls:sys_enter fails: root, or kernel.perf_event_paranoid <= -1, and tracefs)")
	PERF=
fi
if [ ${#missing[@]} -gt 0 ]; then
	for m in "${missing[@]}"; do echo "bench: missing: $m" >&2; done
	echo "bench: tools/install-deps.sh --bench installs what is missing" >&2
	[ "${BENCH_ALLOW_MISSING:-0}" = 1 ] || exit 2
	echo "bench: BENCH_ALLOW_MISSING=1: the parts that need them are skipped" >&2
fi

for t in "$top_builddir/tlskeyd" "$B/hs-client" "$B/hs-server" "$B/tk-bench-app"; do
	[ -x "$t" ] || { echo "bench: $t not built (make bench)" >&2; exit 1; }
done
FAULT_LIB=$top_builddir/test/fault/.libs/libfaultp11.so

# Our own directory, without "tlskeyd" in any path or process name: other
# suites on a shared machine clean up with "pkill tlskeyd".
TMP=$(mktemp -d /tmp/tkbench.XXXXXX)
PIDS=()
DAEMON=
cleanup() {
	set +e
	for p in "${PIDS[@]}" $DAEMON; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}" $DAEMON; do kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null; done
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A hard limit high enough for 2 x IDLE_N sockets in one process.
want=$((IDLE_N * 2 + 1000))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then
	ulimit -Hn "$want" 2>/dev/null || true
fi
ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$want" ]; then
	IDLE_N=$((($(ulimit -Sn) - 1000) / 2))
	echo "bench: fd limit $(ulimit -Sn): idle sessions reduced to $IDLE_N" >&2
fi

log() { echo "bench: $*" >&2; }
# result KEY VALUE: one raw number, also kept for the summary.
declare -A R
result() { R[$1]=$2; printf 'RESULT %-28s %s\n' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

bg() { # bg NAME CMD...: background in its own process group, logs in TMP
	local name=$1
	shift
	setsid "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	PIDS+=("$!")
	BG=$!
}
stop() { # stop PID: kill a bg process group
	kill -- "-$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
wait_file() { for _ in $(seq 150); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "bench: $1 missing" >&2; exit 1; }
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000)) # below the ephemeral range
		ss -Hltn "sport = :$p" | grep . >/dev/null || { echo "$p"; return; }
	done
	exit 1
}
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# counted NAME: sets PERF_CMD, the perf stat prefix for a process whose
# system calls and context switches (its threads' and children's too) we
# count.  Counting is off until "count on NAME".
PERF_CMD=()
# Rates are measured with COUNTING=0: no process under perf, as a traced
# system call costs more than one that is not, and tlskeyd makes more of
# them than the in-process server.  The counts come from a separate round
# with COUNTING=1.
COUNTING=0
counted() {
	PERF_CMD=()
	[ -n "$PERF" ] && [ "$COUNTING" = 1 ] || return 0
	rm -f "$TMP/$1.ctl" "$TMP/$1.ack" "$TMP/$1.perf"
	mkfifo "$TMP/$1.ctl" "$TMP/$1.ack"
	PERF_CMD=("$PERF" stat -x, -D -1 --control "fifo:$TMP/$1.ctl,$TMP/$1.ack"
		-e raw_syscalls:sys_enter,context-switches,task-clock -o "$TMP/$1.perf" --)
}
count() { # count on|off NAME...: and wait for perf's acknowledgement
	local op=$1 n
	shift
	[ -n "$PERF" ] && [ "$COUNTING" = 1 ] || return 0
	for n; do
		timeout 10 bash -c 'echo "$1" >"$2" && head -n 1 "$3" >/dev/null' _ \
			"$([ "$op" = on ] && echo enable || echo disable)" "$TMP/$n.ctl" "$TMP/$n.ack" ||
			{ log "perf control of $n failed"; exit 1; }
	done
}
# count_end NAME PERF-PID: end the counted process (perf prints when its
# workload exits); sets SYS and CSW, the counts of the enabled windows,
# and CPU, the CPU time in them (user + system, microseconds).
count_end() {
	local name=$1 pid=$2 kids k gk=""
	SYS=0 CSW=0 CPU=0
	[ -n "$PERF" ] && [ "$COUNTING" = 1 ] || return 0
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
	# A pre-forked server's processes go first: their counts reach perf
	# when they exit, and their parent exits once they have.
	for k in $kids; do gk+=" $(cat /proc/"$k"/task/*/children 2>/dev/null || true)"; done
	# shellcheck disable=SC2086
	if [ -n "${gk// /}" ]; then kill $gk 2>/dev/null; elif [ -n "$kids" ]; then kill $kids 2>/dev/null; fi
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	# shellcheck disable=SC2086
	kill -0 "$pid" 2>/dev/null && kill $kids 2>/dev/null
	wait "$pid" 2>/dev/null || true
	SYS=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print ($1 ~ /^[0-9]+$/) ? $1 : 0 }' "$TMP/$name.perf")
	CSW=$(awk -F, '$3 == "context-switches" { print ($1 ~ /^[0-9]+$/) ? $1 : 0 }' "$TMP/$name.perf")
	CPU=$(awk -F, '$3 == "task-clock" { print ($1 ~ /^[0-9.]+$/) ? int($1 * 1000) : 0 }' "$TMP/$name.perf")
	SYS=${SYS:-0} CSW=${CSW:-0} CPU=${CPU:-0}
}
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
# spread V...: "min..max" of the rounds
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }'; }

# --- fixture: token, keys, certificates -----------------------------------
log "fixture in $TMP"
bash "$top_srcdir/test/softhsm/fixture.sh" "$TMP/fx" >/dev/null
# shellcheck source=/dev/null
. "$TMP/fx/env"
FX=$TMP/fx
cp "$top_builddir/tlskeyd" "$TMP/kd"
export TLSKEYD_SOCKET=$FX/tlskeyd.sock
# File keys of the same types for stunnel (it cannot use the token easily).
for kt in ec rsa; do
	if [ $kt = ec ]; then ka=(--key-type=ecdsa --curve=secp256r1); else ka=(--key-type=rsa --bits=2048); fi
	certtool --generate-privkey "${ka[@]}" --no-text --outfile "$TMP/file-$kt.key" 2>/dev/null
	printf 'cn = server.example.test\ndns_name = server.example.test\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n' >"$TMP/file.tmpl"
	certtool --generate-certificate --load-privkey "$TMP/file-$kt.key" --load-ca-certificate "$FX/ca.pem" \
		--load-ca-privkey "$FX/ca.key" --template "$TMP/file.tmpl" --no-text \
		--outfile "$TMP/file-$kt.pem" 2>/dev/null
done

# daemon EXTRA-LINES: (re)start tlskeyd with the fixture's configuration
# and EXTRA "key = value" lines in place of the fixture's own.
daemon() {
	[ -n "$DAEMON" ] && stop "$DAEMON"
	awk -v extra="$1" '
		BEGIN { n = split(extra, e, "\n"); for (i = 1; i <= n; i++) {
			k = e[i]; sub(/[ \t]*=.*/, "", k); if (k != "") over[k] = e[i] } }
		/^\[/ && !done { for (k in over) print over[k]; done = 1 }
		{ k = $0; sub(/[ \t]*=.*/, "", k) }
		(k in over) { next }
		{ print }' "$FX/tlskeyd.conf" >"$TMP/kd.conf"
	rm -f "$TLSKEYD_SOCKET"
	counted kd
	setsid bash -c 'cd "$1" && shift && exec "$@"' _ "$TMP" "${PERF_CMD[@]}" ./kd -c kd.conf \
		</dev/null >>"$TMP/kd.log" 2>&1 &
	DAEMON=$!
	for _ in $(seq 100); do
		if [ -S "$TLSKEYD_SOCKET" ]; then
			# The daemon itself, under perf: for its RSS.
			KD_PID=$DAEMON
			[ ${#PERF_CMD[@]} -eq 0 ] || KD_PID=$(awk '{ print $1 }' /proc/"$DAEMON"/task/*/children)
			return 0
		fi
		sleep 0.1
	done
	tail "$TMP/kd.log" >&2
	exit 1
}

# app NAME MODE ARGS...: tk-bench-app; sets APP_PORT
app() {
	local name=$1
	shift
	rm -f "$TMP/$name.port"
	counted "$name"
	bg "$name" "${PERF_CMD[@]}" "$B/tk-bench-app" "$@" --port-file "$TMP/$name.port"
	APP_PID=$BG
	wait_file "$TMP/$name.port"
	APP_PORT=$(cat "$TMP/$name.port")
}
inproc() { # inproc NAME MODE KEYLABEL ARGS...: hs-server on the token key
	local name=$1 mode=$2 key=$3
	shift 3
	rm -f "$TMP/$name.port"
	counted "$name"
	bg "$name" "${PERF_CMD[@]}" "$B/hs-server" "$mode" --port-file "$TMP/$name.port" --module "$TK_MODULE" \
		--pin-file "$FX/pin" --cert "$FX/$key-chain.pem" \
		--key "$TK_TOKEN_URI;object=$key;type=private" "$@"
	SRV_PID=$BG
	wait_file "$TMP/$name.port"
	SRV_PORT=$(cat "$TMP/$name.port")
}
stunnel_start() { # stunnel_start NAME KT BACKEND-PORT [EXTRA]: sets ST_PORT
	local name=$1 kt=$2 backend=$3
	ST_PORT=$(free_port)
	cat >"$TMP/$name.conf" <<EOF
foreground = yes
pid =
debug = err
output = $TMP/$name.log
[bench]
accept = 127.0.0.1:$ST_PORT
connect = 127.0.0.1:$backend
cert = $TMP/file-$kt.pem
key = $TMP/file-$kt.key
${4:-}
EOF
	bg "$name" "$STUNNEL" "$TMP/$name.conf"
	ST_PID=$BG
	for _ in $(seq 100); do ss -Hltn "sport = :$ST_PORT" | grep . >/dev/null && return 0; sleep 0.1; done
	cat "$TMP/$name.log" >&2
	exit 1
}

# clients NAME PORT N PROCS CONC [ARGS]: PROCS hs-client processes at once;
# sets RATE (total handshakes/s), P50, P99 (of the first process).
clients() {
	local name=$1 port=$2 n=$3 procs=$4 conc=$5 i pids=()
	shift 5
	for i in $(seq "$procs"); do
		timeout 600 "$B/hs-client" hs "127.0.0.1:$port" "$n" --conc "$conc" "$@" \
			>"$TMP/$name-$i.out" 2>"$TMP/$name-$i.err" &
		pids+=("$!")
	done
	for i in "${pids[@]}"; do wait "$i" || { cat "$TMP/$name"-*.err >&2; log "$name: client failed"; }; done
	NDONE=$(cat "$TMP/$name"-*.out | awk '/^HS/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "n") n += kv[2] } } END { print n + 0 }')
	RATE=$(cat "$TMP/$name"-*.out | awk '/^HS/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n += v["n"]; if (v["secs"] > s) s = v["secs"] } END { printf "%.0f", n / s }')
	P50=$(awk '/^HS/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "p50_us") print kv[2] } }' "$TMP/$name-1.out")
	P99=$(awk '/^HS/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "p99_us") print kv[2] } }' "$TMP/$name-1.out")
}

log "machine: $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "gnutls $(gnutls-cli --version 2>/dev/null | head -n 1 | awk '{ print $NF }'), ${STUNNEL:-no stunnel}"

# median V...: the middle value (the lower of the two middle ones).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# --- 1. full TLS 1.3 handshakes/s, 2 client processes ---------------------
# tlskeyd (WORKERS workers) and the in-process server (WORKERS processes,
# the same token key) run side by side and are measured in alternating
# rounds of ROUND_SECS each; the median round of each is reported with the
# spread of the rounds, so that a noisy minute on a shared machine does not
# decide the ratio.  System calls and context switches are counted in the
# daemon and the app together (the in-process server alone), over all
# rounds, per handshake.
if [[ " $ONLY " = *" hs "* ]]; then
	log "baseline: hs-server $WORKERS processes, tlskeyd workers = $WORKERS, both on the token key (SoftHSM)"
	for kt in ec rsa; do
		if [ $kt = ec ]; then my=server.example.test key=server-ec; else my=rsa.example.test key=server-rsa; fi
		hs_start() {
			daemon "workers = $WORKERS${BENCH_KD_EXTRA:+
$BENCH_KD_EXTRA}"
			app "app-hs-$kt" hs --threads 8 --myname "$my"
			inproc "srv-hs-$kt" hs "$key" --workers "$WORKERS"
		}
		COUNTING=0
		hs_start
		kd=() in=()
		for r in $(seq "$ROUNDS"); do
			clients "hs-kd-$kt-$r" "$APP_PORT" "$HS_N" 2 "$HS_CONC" --secs "$ROUND_SECS"
			kd+=("$RATE")
			clients "hs-in-$kt-$r" "$SRV_PORT" "$HS_N" 2 "$HS_CONC" --secs "$ROUND_SECS"
			in+=("$RATE")
		done
		log "hs $kt rounds: tlskeyd ${kd[*]}, in-process ${in[*]}"
		result "hs_per_s.$kt.tlskeyd" "$(median "${kd[@]}")"
		result "hs_per_s.$kt.tlskeyd.spread" "$(spread "${kd[@]}")"
		result "hs_per_s.$kt.inprocess" "$(median "${in[@]}")"
		result "hs_per_s.$kt.inprocess.spread" "$(spread "${in[@]}")"
		stop "$APP_PID"
		stop "$SRV_PID"
		if [ -n "$PERF" ]; then
			# One more round each under perf stat, for the counts.
			COUNTING=1
			hs_start
			count on kd "app-hs-$kt"
			clients "hs-kd-$kt-c" "$APP_PORT" "$HS_N" 2 "$HS_CONC" --secs "$ROUND_SECS"
			count off kd "app-hs-$kt"
			nkd=$NDONE
			count on "srv-hs-$kt"
			clients "hs-in-$kt-c" "$SRV_PORT" "$HS_N" 2 "$HS_CONC" --secs "$ROUND_SECS"
			count off "srv-hs-$kt"
			nin=$NDONE
			count_end "app-hs-$kt" "$APP_PID"
			asys=$SYS acsw=$CSW acpu=$CPU
			count_end kd "$DAEMON"
			DAEMON=
			result "cpu_us_per_hs.$kt.tlskeyd" "$(per $((CPU + acpu)) "$nkd") (daemon $(per "$CPU" "$nkd"), app $(per "$acpu" "$nkd"))"
			result "syscalls_per_hs.$kt.tlskeyd" "$(per $((SYS + asys)) "$nkd") (daemon $(per "$SYS" "$nkd"), app $(per "$asys" "$nkd"))"
			result "ctxsw_per_hs.$kt.tlskeyd" "$(per $((CSW + acsw)) "$nkd") (daemon $(per "$CSW" "$nkd"), app $(per "$acsw" "$nkd"))"
			count_end "srv-hs-$kt" "$SRV_PID"
			result "cpu_us_per_hs.$kt.inprocess" "$(per "$CPU" "$nin")"
			result "syscalls_per_hs.$kt.inprocess" "$(per "$SYS" "$nin")"
			result "ctxsw_per_hs.$kt.inprocess" "$(per "$CSW" "$nin")"
			stop "$APP_PID"
			stop "$SRV_PID"
			COUNTING=0
		fi
		if [ -n "$STUNNEL" ]; then
			app "be-hs-$kt" hs --plain --threads 8
			stunnel_start "st-hs-$kt" "$kt" "$APP_PORT"
			clients "hs-st-$kt" "$ST_PORT" "$HS_N" 2 "$HS_CONC" --secs "$ROUND_SECS"
			result "hs_per_s.$kt.stunnel_filekey" "$RATE"
			stop "$ST_PID"
			stop "$APP_PID"
		fi
		result "ratio.hs.$kt.tlskeyd_vs_inprocess" \
			"$(ratio "${R[hs_per_s.$kt.tlskeyd]}" "${R[hs_per_s.$kt.inprocess]}")"
	done
fi

# --- 2. added latency of one handshake (sequential, one client) -----------
if [[ " $ONLY " = *" lat "* ]]; then
	daemon "workers = 4"
	app app-lat hs --threads 4
	inproc srv-lat hs server-ec --workers 4
	k50=() k99=() i50=() i99=()
	for r in $(seq "$ROUNDS"); do
		clients "lat-kd-$r" "$APP_PORT" "$((LAT_N / ROUNDS))" 1 1
		k50+=("$P50") k99+=("$P99")
		clients "lat-in-$r" "$SRV_PORT" "$((LAT_N / ROUNDS))" 1 1
		i50+=("$P50") i99+=("$P99")
	done
	stop "$APP_PID"
	stop "$SRV_PID"
	result lat_us.ec.tlskeyd.p50 "$(median "${k50[@]}")"
	result lat_us.ec.tlskeyd.p99 "$(median "${k99[@]}")"
	result lat_us.ec.inprocess.p50 "$(median "${i50[@]}")"
	result lat_us.ec.inprocess.p99 "$(median "${i99[@]}")"
	result lat_us.ec.added.p50 $((R[lat_us.ec.tlskeyd.p50] - R[lat_us.ec.inprocess.p50]))
	result lat_us.ec.added.p99 $((R[lat_us.ec.tlskeyd.p99] - R[lat_us.ec.inprocess.p99]))
fi

# --- 3. slow HSM: 5 ms per signature, workers = 8 vs 1 ---------------------
if [[ " $ONLY " = *" slow "* ]] && [ -e "$FAULT_LIB" ]; then
	export FAULTP11_MODULE=$TK_MODULE FAULTP11_CONTROL=$TMP/faultp11.ctl
	echo "delay_ms=5" >"$FAULTP11_CONTROL"
	for w in 1 8; do
		daemon "workers = $w
pkcs11-module = $FAULT_LIB"
		app "app-slow-$w" hs --threads 32
		clients "slow-$w" "$APP_PORT" "$((SLOW_N / 2))" 2 8
		result "hs_per_s.ec.slowhsm.workers$w" "$RATE"
		stop "$APP_PID"
	done
	unset FAULTP11_MODULE FAULTP11_CONTROL
	result ratio.slowhsm.workers8_vs_1 "$(ratio "${R[hs_per_s.ec.slowhsm.workers8]}" "${R[hs_per_s.ec.slowhsm.workers1]}")"
fi

# --- 4. bulk relay throughput, AES-128-GCM, BULK_MIB each way --------------
# One full-duplex connection per run; tlskeyd, the in-process server (the
# same token key, WORKERS of each), stunnel and plain TCP take turns in
# ROUNDS alternating rounds; medians and spreads.  System calls and
# context switches per MiB relayed (up and down added) are counted over
# the tlskeyd rounds in the daemon and the app, and over the in-process
# rounds in the server.
bulk_run() { # bulk_run NAME PORT [ARGS]: sets UP DOWN (MB/s)
	local name=$1 port=$2
	shift 2
	timeout 600 "$B/hs-client" bulk "127.0.0.1:$port" "$BYTES" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" ||
		{ cat "$TMP/$name.err" >&2; log "$name failed"; }
	UP=$(sed -n 's/.*up_MBps=\([0-9.]*\).*/\1/p' "$TMP/$name.out")
	DOWN=$(sed -n 's/.*down_MBps=\([0-9.]*\).*/\1/p' "$TMP/$name.out")
	UP=${UP:-0} DOWN=${DOWN:-0}
}
bulk_result() { # bulk_result KEY UPS DOWNS (space separated)
	# shellcheck disable=SC2086
	result "bulk_MBps.$1.up" "$(median $2)"; result "bulk_MBps.$1.up.spread" "$(spread $2)"
	# shellcheck disable=SC2086
	result "bulk_MBps.$1.down" "$(median $3)"; result "bulk_MBps.$1.down.spread" "$(spread $3)"
}
if [[ " $ONLY " = *" bulk "* ]]; then
	BYTES=$((BULK_MIB * 1024 * 1024))
	bulk_start() {
		daemon "workers = $WORKERS
priority = $AES128"
		app app-bulk bulk --threads 2 --bytes "$BYTES"
		kd_app=$APP_PID kd_port=$APP_PORT
		inproc srv-bulk bulk server-ec --workers "$WORKERS" --bytes "$BYTES" --prio "$AES128"
	}
	COUNTING=0
	bulk_start
	app be-bulk bulk --plain --threads 2 --bytes "$BYTES"
	be_app=$APP_PID be_port=$APP_PORT
	[ -n "$STUNNEL" ] && stunnel_start st-bulk ec "$be_port" "ciphersuites = TLS_AES_128_GCM_SHA256"
	ku="" kdn="" iu="" idn="" su="" sdn="" tu="" tdn=""
	for r in $(seq "$ROUNDS"); do
		bulk_run "bulk-kd-$r" "$kd_port" --prio "$AES128"
		ku+=" $UP" kdn+=" $DOWN"
		bulk_run "bulk-in-$r" "$SRV_PORT" --prio "$AES128"
		iu+=" $UP" idn+=" $DOWN"
		if [ -n "$STUNNEL" ]; then
			bulk_run "bulk-st-$r" "$ST_PORT" --prio "$AES128"
			su+=" $UP" sdn+=" $DOWN"
		fi
		bulk_run "bulk-tcp-$r" "$be_port" --plain
		tu+=" $UP" tdn+=" $DOWN"
	done
	log "bulk rounds up/down MB/s: tlskeyd$ku /$kdn; in-process$iu /$idn; stunnel${su:- n/a} /${sdn:- n/a}"
	bulk_result tlskeyd "$ku" "$kdn"
	bulk_result inprocess "$iu" "$idn"
	[ -n "$STUNNEL" ] && bulk_result stunnel "$su" "$sdn"
	bulk_result plain_tcp "$tu" "$tdn"
	[ -n "$STUNNEL" ] && stop "$ST_PID"
	stop "$kd_app"
	stop "$SRV_PID"
	stop "$be_app"
	if [ -n "$PERF" ]; then
		# One more round each under perf stat, for the counts.
		COUNTING=1
		bulk_start
		count on kd app-bulk
		bulk_run bulk-kd-c "$kd_port" --prio "$AES128"
		count off kd app-bulk
		count on srv-bulk
		bulk_run bulk-in-c "$SRV_PORT" --prio "$AES128"
		count off srv-bulk
		mib=$((BULK_MIB * 2))
		count_end app-bulk "$kd_app"
		asys=$SYS acsw=$CSW acpu=$CPU
		count_end kd "$DAEMON"
		DAEMON=
		result cpu_us_per_MiB.tlskeyd "$(per $((CPU + acpu)) "$mib") (daemon $(per "$CPU" "$mib"), app $(per "$acpu" "$mib"))"
		result syscalls_per_MiB.tlskeyd "$(per $((SYS + asys)) "$mib") (daemon $(per "$SYS" "$mib"), app $(per "$asys" "$mib"))"
		result ctxsw_per_MiB.tlskeyd "$(per $((CSW + acsw)) "$mib") (daemon $(per "$CSW" "$mib"), app $(per "$acsw" "$mib"))"
		count_end srv-bulk "$SRV_PID"
		result cpu_us_per_MiB.inprocess "$(per "$CPU" "$mib")"
		result syscalls_per_MiB.inprocess "$(per "$SYS" "$mib")"
		result ctxsw_per_MiB.inprocess "$(per "$CSW" "$mib")"
		stop "$kd_app"
		stop "$SRV_PID"
		COUNTING=0
	fi
	for d in up down; do
		result "ratio.bulk.tlskeyd_vs_inprocess.$d" "$(ratio "${R[bulk_MBps.tlskeyd.$d]}" "${R[bulk_MBps.inprocess.$d]}")"
		[ -n "$STUNNEL" ] && result "ratio.bulk.tlskeyd_vs_stunnel.$d" \
			"$(ratio "${R[bulk_MBps.tlskeyd.$d]}" "${R[bulk_MBps.stunnel.$d]}")"
	done
fi

# --- 5. memory per idle session --------------------------------------------
hold() { # hold NAME PORT SERVER-PID: IDLE_N idle sessions; sets PER (bytes/session)
	local name=$1 port=$2 spid=$3 before after i
	sleep 1
	before=$(rss_kb "$spid")
	# The client holds its sessions until its stdin (a FIFO we keep open) ends.
	mkfifo "$TMP/$name.fifo"
	exec 9<>"$TMP/$name.fifo"
	"$B/hs-client" hold "127.0.0.1:$port" "$IDLE_N" <"$TMP/$name.fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" 9>&- &
	local cpid=$!
	for i in $(seq 1200); do grep -q '^HELD' "$TMP/$name.out" && break; kill -0 "$cpid" 2>/dev/null || break; sleep 0.5; done
	sleep 2
	after=$(rss_kb "$spid")
	log "$name: $(cat "$TMP/$name.out") RSS $before -> $after kB"
	HELD=$(sed -n 's/^HELD n=//p' "$TMP/$name.out")
	HELD=${HELD:-0}
	PER=$(((after - before) * 1024 / (HELD > 0 ? HELD : 1)))
	exec 9>&-
	wait "$cpid" 2>/dev/null || true
}
if [[ " $ONLY " = *" mem "* ]]; then
	daemon "workers = 4
max-pending = 4096"
	kd=$KD_PID
	app app-hold hold --threads 8
	hold mem-kd "$APP_PORT" "$kd"
	result "mem_idle.sessions" "${HELD:-0}"
	result mem_bytes_per_session.tlskeyd "$PER"
	stop "$APP_PID"
	if [ -n "$STUNNEL" ]; then
		app be-hold hold --plain --threads 2
		stunnel_start st-hold ec "$APP_PORT"
		hold mem-st "$ST_PORT" "$ST_PID"
		result mem_idle.sessions.stunnel "$HELD"
		result mem_bytes_per_session.stunnel "$PER"
		stop "$ST_PID"
		stop "$APP_PID"
	fi
fi

[ -n "$DAEMON" ] && stop "$DAEMON" && DAEMON=
log "done; raw outputs in $TMP (BENCH_KEEP=1 keeps them)"
