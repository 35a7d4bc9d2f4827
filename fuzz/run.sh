#!/usr/bin/env bash
# Build every libFuzzer harness (./configure --enable-fuzzing, clang, ASan +
# UBSan, from the same convenience libraries as the programs: see
# fuzz/local.mk) in fuzz/out/build, and run each for a bounded time on its
# corpus (fuzz/corpus/NAME, copied to fuzz/out/corpus_NAME).
# Usage: fuzz/run.sh [SECONDS_PER_HARNESS]
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
secs=${1:-30}
out=$top/fuzz/out
build=$out/build
mkdir -p "$out"

command -v clang >/dev/null || { echo "fuzz/run.sh: clang is required" >&2; exit 1; }
# A VPATH build needs a source tree that was never configured in place.
[ ! -f "$top/config.status" ] ||
	{ echo "fuzz/run.sh: the source tree is configured in place; make distclean first" >&2; exit 1; }
[ -x "$top/configure" ] || autoreconf -fi
if [ ! -f "$build/config.status" ] || [ "$top/configure" -nt "$build/config.status" ]; then
	rm -rf "$build"
	mkdir -p "$build"
	(cd "$build" && CC=clang CFLAGS="-g -O1" "$top/configure" -q --enable-fuzzing)
fi
(cd "$build" && make -s -j"$(nproc 2>/dev/null || echo 2)")

# Inputs up to the largest message the wire parser accepts, and then some:
# a limit below TK_WIRE_MAX_MSG would never reach the length checks.
max_len=$(awk '$1 == "#define" && $2 == "TK_WIRE_MAX_MSG" { sub(/u$/, "", $3); print $3 }' common/wire.h)
[ -n "$max_len" ] || { echo "cannot read TK_WIRE_MAX_MSG from common/wire.h" >&2; exit 1; }
max_len=$((max_len + 1024))
status=0
for src in fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	bin=$build/fuzz/fuzz_$name
	[ -x "$bin" ] || { echo "fuzz_$name was not built (is it in fuzz/local.mk?)"; status=1; continue; }
	mkdir -p "$out/corpus_$name"
	[ -d "fuzz/corpus/$name" ] && cp -n fuzz/corpus/$name/* "$out/corpus_$name/" 2>/dev/null || true
	echo "fuzzing $name for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1 \
		"$out/corpus_$name" >"$out/fuzz_$name.log" 2>&1; then
		echo "fuzz_$name FAILED:"; tail -n 60 "$out/fuzz_$name.log"
		status=1
	else
		grep -E 'stat::number_of_executed_units' "$out/fuzz_$name.log" || true
	fi
done
exit $status
