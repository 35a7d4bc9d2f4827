#!/usr/bin/env bash
# Install, build, and run a real demo: a throwaway SoftHSM token with
# non-extractable keys, tlskeyd on a private socket, and two plaintext
# programs that get mutually authenticated TLS 1.3 through it.
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD

./tools/install-deps.sh
if [ -f config.status ]; then make distclean >/dev/null 2>&1 || true; fi
if [ ! -x build/tlskeyd ] || [ ! -x build/examples/demo-server ]; then
	autoreconf -fi
	mkdir -p build
	(cd build && "$top/configure" -q && make -s -j"$(nproc)")
fi

work=$(mktemp -d /tmp/tlskeyd-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== creating a SoftHSM token with keys and certificates in $work"
"$top/test/softhsm/fixture.sh" "$work"
# shellcheck disable=SC1091
. "$work/env"
echo "   keys on the token (private keys are sensitive and not extractable):"
GNUTLS_PIN=$(cat "$work/pin") p11tool --provider "$TK_MODULE" --login --list-privkeys \
	"$TK_TOKEN_URI" 2>/dev/null | sed -n 's/^\s*URL: /     /p'

echo "== starting tlskeyd on $work/tlskeyd.sock"
"$top/build/tlskeyd" -c "$work/tlskeyd.conf" 2>"$work/tlskeyd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/tlskeyd.sock" ] && break; sleep 0.1; done
[ -S "$work/tlskeyd.sock" ] || { cat "$work/tlskeyd.log"; exit 1; }
export TLSKEYD_SOCKET="$work/tlskeyd.sock"

port=$(( 20000 + RANDOM % 12000 )) # below the kernel's ephemeral port range
echo "== demo: server.example.test (ECDSA key on the token) <-> alice@example.test"
"$top/build/examples/demo-server" "$port" server.example.test &
server=$!
pids+=("$server")
sleep 0.5
"$top/build/examples/demo-client" "$port" alice@example.test server.example.test
wait "$server"
echo "== tlskeyd log"
sed 's/^<[0-9]>//' "$work/tlskeyd.log"
echo "== demo finished: both sides authenticated with keys that never left the token"
