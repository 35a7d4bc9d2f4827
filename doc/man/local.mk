# doc/man: hand-written manual pages (checked by test/systemd/manpages.sh).
# starttls_server.3 and tlskey_last_error.3 are ".so" links to
# starttls_client.3; tlskey_finish*.3 to tlskey_starttls.3; tlskey_control.3 to
# tlskey_export_keying_material.3.  tlskeyctl.8 is listed in tools/local.mk.
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
	doc/man/tlskey_query.3 \
	doc/man/tlskey_query_session.3 \
	doc/man/tlskey_export_keying_material.3 \
	doc/man/tlskey_control.3

# The pages name /etc/tlskeyd and /usr/share/doc/tlskeyd; the installed
# copies name the directories this build installs to (sysconfdir, docdir),
# so that a page never points at a path that does not exist here.
man_path_edit = $(SED) -i \
	-e 's|/etc/tlskeyd|$(sysconfdir)/tlskeyd|g' \
	-e 's|/usr/share/doc/tlskeyd|$(docdir)|g'

install-data-hook:
	@for f in '$(DESTDIR)$(man1dir)/tlskey-tunnel.1' '$(DESTDIR)$(man5dir)/tlskeyd.conf.5' \
		'$(DESTDIR)$(man8dir)/tlskeyd.8' '$(DESTDIR)$(man8dir)/tlskeyctl.8'; do \
		if test -f "$$f"; then chmod u+w "$$f" && $(man_path_edit) "$$f" || exit 1; fi; \
	done
