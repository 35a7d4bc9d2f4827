# doc/man: hand-written manual pages (checked by test/systemd/manpages.sh).
# starttls_server.3 and tlskey_last_error.3 are ".so" links to
# starttls_client.3.  tlskeyctl.8 is listed in tools/local.mk.
dist_man_MANS += \
	doc/man/tlskeyd.8 \
	doc/man/tlskeyd.conf.5 \
	doc/man/starttls_client.3 \
	doc/man/starttls_server.3 \
	doc/man/tlskey_last_error.3
