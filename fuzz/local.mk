# Fuzz harnesses are built by fuzz/run.sh with clang -fsanitize=fuzzer.
EXTRA_DIST += fuzz/run.sh fuzz/fuzz_wire.c fuzz/fuzz_conf.c fuzz/fuzz_acl.c
