#!/usr/bin/env bash
# Install dependencies, build, and run the whole test suite:
#   1. a normal build with -Werror and `make check` (unit + integration tests)
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. `make distcheck`
#   4. each libFuzzer harness for a bounded time (FUZZ_SECONDS, default 30)
# Exits non-zero on any failure.  Set TLSKEY_QUICK=1 to run only step 1.
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

./tools/install-deps.sh --test

# VPATH builds need a source tree that was never configured in place.
if [ -f config.status ]; then
	make distclean >/dev/null 2>&1 || true
fi
autoreconf -fi

step() { printf '\n=== %s ===\n' "$*"; }

show_failures() {
	local dir=$1
	find "$dir" -name '*.log' -path '*test*' -newer "$dir/config.status" 2>/dev/null |
		while read -r f; do
			if grep -qE '^:test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null; then
				echo "----- $f -----"; tail -n 80 "$f"
			fi
		done
}

build_and_check() {
	local dir=$1; shift
	rm -rf "$dir"; mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --enable-werror "$@" && make -s -j"$jobs") || return 1
	if ! (cd "$dir" && make -s -j"$jobs" check); then
		show_failures "$dir"
		return 1
	fi
}

step "build and test"
build_and_check "$top/build"

if [ "${TLSKEY_QUICK:-0}" != 1 ]; then
	step "build and test under ASan+UBSan"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions="$top/test/lsan.supp" \
		build_and_check "$top/build-asan" --enable-sanitizers CFLAGS="-O1 -g"

	step "make distcheck"
	(cd "$top/build" && make -s -j"$jobs" distcheck)

	step "fuzzing (bounded)"
	./fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi
step "all tests passed"
