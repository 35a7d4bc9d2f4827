# Part of test/lib/tk.sh, and sourced on its own by test/softhsm/fixture.sh
# (which runs before any test library state exists): certificate issuing
# from a test CA and the key-flag check of token keys.  Plain functions
# returning a status; the callers decide how to fail.

# tk_cert_issue PEM TEMPLATE CA-PEM CA-KEY PUBKEY-ARGS...: issue PEM from
# TEMPLATE with the CA, for the key given by PUBKEY-ARGS (--load-pubkey F,
# --load-privkey F).  certtool's output goes to the caller's stdout/stderr.
tk_cert_issue() {
	local pem=$1 tmpl=$2 ca=$3 cakey=$4
	shift 4
	certtool --generate-certificate "$@" \
		--load-ca-certificate "$ca" --load-ca-privkey "$cakey" \
		--template "$tmpl" --no-text --outfile "$pem" </dev/null
}

# tk_key_flags LABEL: from a "p11tool --list-all-privkeys" listing on stdin,
# print the Flags: line of the private key LABEL (nothing if absent).
tk_key_flags() {
	awk -v l="$1" '
		$1 == "Label:" { cur = $2 }
		$1 == "Flags:" && cur == l { print; exit }'
}

# tk_key_flags_bad FLAGS: print why FLAGS (a tk_key_flags line) is not a
# custody key (missing, not CKA_SENSITIVE, or CKA_EXTRACTABLE) and return 0;
# return 1 if the key is fine.  p11tool prints a flag only when it is true
# ("CKA_NEVER_EXTRACTABLE;" does not contain "CKA_EXTRACTABLE;").
tk_key_flags_bad() {
	case $1 in
	"") echo "missing"; return 0 ;;
	*CKA_SENSITIVE*) ;;
	*) echo "not CKA_SENSITIVE: $1"; return 0 ;;
	esac
	case $1 in
	*"CKA_EXTRACTABLE;"*) echo "extractable: $1"; return 0 ;;
	esac
	return 1
}
