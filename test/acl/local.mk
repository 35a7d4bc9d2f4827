# test/acl: ACL administration (tlskeyctl), reload and audit, with the real
# daemon and the SoftHSM fixture of test/softhsm (see doc/tlskeyctl.md).
ACL_TESTS = test/acl/ctl-edit.sh test/acl/ctl-keys.sh test/acl/users.sh test/acl/reload.sh \
	test/acl/reload-audit.sh test/acl/peers.sh test/acl/map-user.sh test/acl/unprivileged.sh \
	test/acl/reeval-list.sh

TESTS += $(ACL_TESTS)
EXTRA_DIST += $(ACL_TESTS)
