# systemd: units and the system user, see doc/systemd.md.
# tlskeyd.service is generated so that it names the installed binary and
# configuration; the socket unit and the sysusers file are static.
systemdsystemunit_DATA = systemd/tlskeyd.service systemd/tlskeyd-metrics@.service \
	systemd/tlskeyd-ocsp.service
dist_systemdsystemunit_DATA = systemd/tlskeyd.socket systemd/tlskeyd-metrics.socket \
	systemd/tlskeyd-ocsp.timer
# systemd's sysusers.d directory (pkg-config --variable=sysusersdir systemd
# gives the distribution's); override with "make sysusersdir=DIR".
sysusersdir = $(prefix)/lib/sysusers.d
sysusers_DATA = systemd/sysusers.d/tlskeyd.conf

EXTRA_DIST += systemd/tlskeyd.service.in systemd/tlskeyd-metrics@.service.in systemd/tlskeyd.sysusers \
	systemd/tlskeyd-ocsp.service.in
CLEANFILES += systemd/tlskeyd.service systemd/tlskeyd-metrics@.service systemd/sysusers.d/tlskeyd.conf \
	systemd/tlskeyd-ocsp.service

# Substituted here rather than by configure so that "make prefix=..." and
# "make sbindir=..." give matching units.  The "[@]" keeps this rule from
# being substituted itself.
systemd_edit = $(SED) \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g'

systemd/tlskeyd.service: $(srcdir)/systemd/tlskeyd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && rm -f $@ $@.tmp && \
	$(systemd_edit) $(srcdir)/systemd/tlskeyd.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@

systemd/tlskeyd-metrics@.service: $(srcdir)/systemd/tlskeyd-metrics@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && rm -f $@ $@.tmp && \
	$(systemd_edit) $(srcdir)/systemd/tlskeyd-metrics@.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@

systemd/tlskeyd-ocsp.service: $(srcdir)/systemd/tlskeyd-ocsp.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && rm -f $@ $@.tmp && \
	$(systemd_edit) $(srcdir)/systemd/tlskeyd-ocsp.service.in >$@.tmp && \
	chmod a-w $@.tmp && mv $@.tmp $@

systemd/sysusers.d/tlskeyd.conf: $(srcdir)/systemd/tlskeyd.sysusers
	$(AM_V_GEN)$(MKDIR_P) systemd/sysusers.d && rm -f $@ && \
	cp $(srcdir)/systemd/tlskeyd.sysusers $@ && chmod u+w $@

dist_doc_DATA += doc/systemd.md
