# doc/man: hand-written manual pages (checked by test/systemd/manpages.sh).
# starttls_server.3 and tlskey_last_error.3 are ".so" links to
# starttls_client.3; tlskey_finish*.3 to tlskey_starttls.3.  tlskeyctl.8 is listed in tools/local.mk.
dist_man_MANS += \
	doc/man/tlskeyd.8 \
	doc/man/tlskeyd.conf.5 \
	doc/man/starttls_client.3 \
	doc/man/starttls_server.3 \
	doc/man/tlskey_last_error.3 \
	doc/man/tlskey_starttls.3 \
	doc/man/tlskey_finish.3 \
	doc/man/tlskey_finish_sni.3 \
	doc/man/tlskey_finish_sni_ctx.3 \
	doc/man/tlskey_query.3
