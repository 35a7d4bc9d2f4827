#!/bin/bash
. "${top_srcdir:-.}/test/lib/tk.sh"
tk_skip "todo"
