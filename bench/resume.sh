#!/bin/bash
# bench/resume.sh: TLS 1.3 handshakes/s through tlskeyd with a slow token
# (the fault module, 5 ms per signature), full handshakes against resumed
# ones (resumption = on, doc/config.md), raw numbers and the ratio.  Kept
# apart from bench/run.sh; see doc/performance.md.  Not part of "make check".
#
#   make bench && bench/resume.sh          # from the build directory
#
# Knobs: BENCH_FULL_N / BENCH_RES_N handshakes per client process (300 /
# 3000), BENCH_PROCS client processes (2), BENCH_CONC handshakes in flight
# per process (8), BENCH_WORKERS daemon workers to measure ("1 4"),
# BENCH_ROUNDS alternating rounds, median reported (3), BENCH_DELAY_MS (5).
# The full and the resumed rounds run against the same daemon: a client
# that offers no ticket (hs-client without --resume) gets a full handshake.
# Needs softhsm2, gnutls-bin; 127.0.0.1 only; every wait is bounded.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$PWD}
B=$top_builddir/bench
FULL_N=${BENCH_FULL_N:-300}
RES_N=${BENCH_RES_N:-3000}
PROCS=${BENCH_PROCS:-2}
CONC=${BENCH_CONC:-8}
WORKERS=${BENCH_WORKERS:-1 4}
ROUNDS=${BENCH_ROUNDS:-3}
DELAY=${BENCH_DELAY_MS:-5}
FAULT_LIB=$top_builddir/test/fault/.libs/libfaultp11.so
for t in "$top_builddir/tlskeyd" "$B/hs-client" "$B/tk-bench-app" "$FAULT_LIB"; do
	[ -e "$t" ] || { echo "bench: $t not built (make bench check TESTS=)" >&2; exit 1; }
done

# No "tlskeyd" in our paths or process names (see bench/run.sh).
TMP=$(mktemp -d /tmp/tkbench-res.XXXXXX)
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 -- "-$p" 2>/dev/null; done
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "bench: $*" >&2; }
result() { printf 'RESULT %-36s %s\n' "$1" "$2"; }
# cpu_us PID: user + system CPU time of PID so far, microseconds.
cpu_us() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e6 / t }' "/proc/$1/stat"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wait_file() { for _ in $(seq 150); do [ -s "$1" ] && return 0; sleep 0.1; done; log "$1 missing"; exit 1; }
bg() { # bg NAME CMD...: in its own process group; sets BG
	setsid "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err" </dev/null &
	BG=$!
	PIDS+=("$BG")
}
stop() {
	kill -- "-$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

log "fixture in $TMP"
bash "$top_srcdir/test/softhsm/fixture.sh" "$TMP/fx" >/dev/null
# shellcheck source=/dev/null
. "$TMP/fx/env"
export TLSKEYD_SOCKET=$TMP/fx/tlskeyd.sock
export FAULTP11_MODULE=$TK_MODULE FAULTP11_CONTROL=$TMP/faultp11.ctl
echo "delay_ms=$DELAY" >"$FAULTP11_CONTROL"
cp "$top_builddir/tlskeyd" "$TMP/kd"

# clients NAME PORT N [ARGS]: PROCS hs-client processes; sets RATE, RESUMED
clients() {
	local name=$1 port=$2 n=$3 i pids=()
	shift 3
	for i in $(seq "$PROCS"); do
		timeout 600 "$B/hs-client" hs "127.0.0.1:$port" "$n" --conc "$CONC" "$@" \
			>"$TMP/$name-$i.out" 2>"$TMP/$name-$i.err" &
		pids+=("$!")
	done
	for i in "${pids[@]}"; do wait "$i" || { cat "$TMP/$name"-*.err >&2; log "$name: client failed"; exit 1; }; done
	RATE=$(cat "$TMP/$name"-*.out | awk '/^HS/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n += v["n"]; if (v["secs"] > s) s = v["secs"] } END { printf "%.0f", n / s }')
	RESUMED=$(cat "$TMP/$name"-*.out | awk '/^HS/ { for (i = 2; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == "resumed") r += kv[2] } } END { print r + 0 }')
}

log "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); token delay ${DELAY} ms per signature"
for w in $WORKERS; do
	awk -v lib="$FAULT_LIB" -v w="$w" '
		/^\[/ && !done { print "resumption = on"; done = 1 }
		/^pkcs11-module = / { print "pkcs11-module = " lib; next }
		/^workers = / { print "workers = " w; next }
		{ print }' "$TMP/fx/tlskeyd.conf" >"$TMP/kd.conf"
	rm -f "$TLSKEYD_SOCKET"
	bg "kd-$w" bash -c 'cd "$1" && exec ./kd -c kd.conf' _ "$TMP"
	kd=$BG
	for _ in $(seq 100); do [ -S "$TLSKEYD_SOCKET" ] && break; sleep 0.1; done
	[ -S "$TLSKEYD_SOCKET" ] || { cat "$TMP/kd-$w.err" >&2; exit 1; }
	rm -f "$TMP/app.port"
	bg "app-$w" "$B/tk-bench-app" hs --threads 32 --port-file "$TMP/app.port"
	app=$BG
	wait_file "$TMP/app.port"
	port=$(cat "$TMP/app.port")
	full=() res=() fcpu=() rcpu=()
	for r in $(seq "$ROUNDS"); do
		c0=$(cpu_us "$kd")
		clients "full-$w-$r" "$port" "$FULL_N"
		full+=("$RATE")
		fcpu+=($(( ($(cpu_us "$kd") - c0) / (FULL_N * PROCS) )))
		c0=$(cpu_us "$kd")
		clients "res-$w-$r" "$port" "$RES_N" --resume
		[ "$RESUMED" = $((RES_N * PROCS)) ] ||
			{ log "workers $w round $r: only $RESUMED of $((RES_N * PROCS)) resumed"; exit 1; }
		res+=("$RATE")
		# The priming handshakes (one per client thread) are in the count.
		rcpu+=($(( ($(cpu_us "$kd") - c0) / (RES_N * PROCS) )))
		log "workers $w round $r: full ${full[-1]}/s (${fcpu[-1]} us daemon CPU each)," \
			"resumed $RATE/s (${rcpu[-1]} us)"
	done
	f=$(median "${full[@]}")
	s=$(median "${res[@]}")
	result "hs_per_s.ec.slowhsm${DELAY}ms.workers$w.full" "$f"
	result "hs_per_s.ec.slowhsm${DELAY}ms.workers$w.resumed" "$s"
	result "ratio.resumed_vs_full.workers$w" "$(awk -v a="$s" -v b="$f" 'BEGIN { printf "%.1f", a / b }')"
	result "daemon_cpu_us_per_hs.workers$w.full" "$(median "${fcpu[@]}")"
	result "daemon_cpu_us_per_hs.workers$w.resumed" "$(median "${rcpu[@]}")"
	stop "$app"
	stop "$kd"
done
