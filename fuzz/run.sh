#!/usr/bin/env bash
# Build every libFuzzer harness with clang (ASan+UBSan) and run each for a
# bounded time.  Usage: fuzz/run.sh [SECONDS_PER_HARNESS]
# Needs a configured tree (config.h) in build/ or in the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
secs=${1:-30}
out=$top/fuzz/out
mkdir -p "$out"

cfg=$top/build
[ -f "$cfg/config.h" ] || cfg=$top
[ -f "$cfg/config.h" ] || { echo "fuzz/run.sh: configure first (no config.h)" >&2; exit 1; }
command -v clang >/dev/null || { echo "fuzz/run.sh: clang is required" >&2; exit 1; }

cc="clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
inc="-I$cfg -I$top -I$top/lib $(pkg-config --cflags gnutls p11-kit-1)"
libs="$(pkg-config --libs gnutls p11-kit-1)"

declare -A srcs=(
	[wire]="fuzz/fuzz_wire.c common/wire.c common/util.c"
	[conf]="fuzz/fuzz_conf.c keyd/conf.c common/util.c common/file.c pkcs11/*.c"
	[acl]="fuzz/fuzz_acl.c policy/*.c common/util.c"
)
# Inputs up to the largest message the wire parser accepts, and then some:
# a limit below TK_WIRE_MAX_MSG would never reach the length checks.
max_len=$(awk '$1 == "#define" && $2 == "TK_WIRE_MAX_MSG" { sub(/u$/, "", $3); print $3 }' common/wire.h)
[ -n "$max_len" ] || { echo "cannot read TK_WIRE_MAX_MSG from common/wire.h" >&2; exit 1; }
max_len=$((max_len + 1024))
status=0
for name in "${!srcs[@]}"; do
	[ -f "fuzz/fuzz_$name.c" ] || continue
	# shellcheck disable=SC2086
	$cc $inc ${srcs[$name]} $libs -lpthread -o "$out/fuzz_$name"
	mkdir -p "$out/corpus_$name"
	[ -d "fuzz/corpus/$name" ] && cp -n fuzz/corpus/$name/* "$out/corpus_$name/" 2>/dev/null || true
	echo "fuzzing $name for ${secs}s"
	if ! "$out/fuzz_$name" -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1 \
		"$out/corpus_$name" >"$out/fuzz_$name.log" 2>&1; then
		echo "fuzz_$name FAILED:"; tail -n 60 "$out/fuzz_$name.log"
		status=1
	else
		grep -E 'stat::number_of_executed_units' "$out/fuzz_$name.log" || true
	fi
done
exit $status
