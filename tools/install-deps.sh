#!/usr/bin/env bash
# Install the Debian 12 packages needed to build and test tlskeyd.
# Used by quickstart.sh, run-tests.sh and CI.  Set TLSKEY_NO_INSTALL=1 to skip.
set -euo pipefail

build_pkgs=(build-essential autoconf automake libtool pkg-config
	libgnutls28-dev libp11-kit-dev libsystemd-dev check libunbound-dev)
run_pkgs=(softhsm2 gnutls-bin p11-kit openssl)
test_pkgs=(clang libclang-rt-dev systemd procps psmisc iproute2 passwd util-linux groff-base man-db
	swtpm libtpm2-pkcs11-1 tpm2-abrmd libtss2-tcti-tabrmd0 libtss2-tcti-swtpm0 dbus-daemon
	p11-kit-modules curl python3 python3-ecdsa unbound nsd ldnsutils)

want=("${build_pkgs[@]}" "${run_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")

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
