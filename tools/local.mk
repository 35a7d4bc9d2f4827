# tools: build fragment (see top Makefile.am)
