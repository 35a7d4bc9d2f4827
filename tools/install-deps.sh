#!/usr/bin/env bash
# Install the Debian 12 packages needed to build and test tlskeyd.
# Used by quickstart.sh, run-tests.sh and CI.  Set TLSKEY_NO_INSTALL=1 to skip.
#   --test   also what the test suite needs;  --bench  also what bench/run.sh needs
set -euo pipefail

build_pkgs=(build-essential autoconf automake libtool pkg-config
	libgnutls28-dev libp11-kit-dev libsystemd-dev check libunbound-dev)
run_pkgs=(softhsm2 gnutls-bin p11-kit openssl)
test_pkgs=(clang libclang-rt-dev systemd procps psmisc iproute2 passwd util-linux groff-base man-db
	swtpm libtpm2-pkcs11-1 tpm2-abrmd libtss2-tcti-tabrmd0 libtss2-tcti-swtpm0 dbus-daemon
	p11-kit-modules curl python3 python3-ecdsa nghttp2-server python3-cryptography linux-perf
	unbound nsd ldnsutils strace)

# bench/run.sh: stunnel is one of the peers it measures against, perf
# counts system calls and context switches.
bench_pkgs=(stunnel4 linux-perf)

want=("${build_pkgs[@]}" "${run_pkgs[@]}")
for a in "$@"; do
	case $a in
	--test) want+=("${test_pkgs[@]}") ;;
	--bench) want+=("${bench_pkgs[@]}") ;;
	*) echo "usage: $0 [--test] [--bench]" >&2; exit 2 ;;
	esac
done

if [ "${TLSKEY_NO_INSTALL:-0}" = 1 ]; then
	exit 0
fi
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "missing packages: ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
else
	SUDO=
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
