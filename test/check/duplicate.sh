#!/bin/bash
# tlskeyd.conf(5) says each setting may appear once, but numeric settings
# used to repeat silently (the last one won).  Now any repeated setting,
# global or in an identity, is an error at the second one's file:line;
# and every mistake of a file is reported, each with its file:line.
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_setup --no-daemon

tk_check_swap "$TK_TMP/dup.conf" "workers = 2" "workers = 2
workers = 3"
line=$(grep -n '^workers = 3$' "$TK_TMP/dup.conf" | cut -d: -f1)
tk_check_t dup "$TK_TMP/dup.conf" 1 "with 'workers' twice"
tk_expect_grep "$TK_TMP/dup.t" "configuration: $TK_TMP/dup\.conf:$line: duplicate setting 'workers'"
tk_check_refused dup "$TK_TMP/dup.conf"

tk_check_swap "$TK_TMP/dup-id.conf" "cert = $TK_FX/alice-ec.pem" "cert = $TK_FX/alice-ec.pem
optional = no
optional = yes"
line=$(grep -n '^optional = yes$' "$TK_TMP/dup-id.conf" | cut -d: -f1)
tk_check_t dup-id "$TK_TMP/dup-id.conf" 1 "with 'optional' twice"
tk_expect_grep "$TK_TMP/dup-id.t" "dup-id\.conf:$line: duplicate setting 'optional'"

# Every mistake of a file is reported, not only the first (-t and reload).
tk_check_swap "$TK_TMP/many.conf" "workers = 2" "workers = 2
workers = 3
no-such-setting = 1"
line=$(grep -n '^workers = 3$' "$TK_TMP/many.conf" | cut -d: -f1)
tk_check_t many "$TK_TMP/many.conf" 1 "with two mistakes"
tk_expect_grep "$TK_TMP/many.t" "configuration: $TK_TMP/many\.conf:$line: duplicate setting 'workers'"
tk_expect_grep "$TK_TMP/many.t" "configuration: $TK_TMP/many\.conf:$((line + 1)): unknown setting 'no-such-setting'"
tk_pass
