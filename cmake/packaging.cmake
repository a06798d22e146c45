# `cmake --install` and the Debian package (CPack): stripped binaries, the systemd unit, the config as a
# conffile, and the promoter user and state directory (sysusers.d / tmpfiles.d). scripts/package builds the
# .deb; tests/scripts/package_test installs it into a scratch root and runs it.
include(GNUInstallDirs)
# cpack and `cmake --install` need only what is installed, not the tests and benches: build those two first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

install(TARGETS promoterd promotectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit in deploy/systemd names /usr/local/bin (a hand install); the package installs to /usr.
file(READ ${CMAKE_CURRENT_SOURCE_DIR}/deploy/systemd/promoterd.service promoter_unit)
string(REPLACE "/usr/local/bin/" "/usr/bin/" promoter_unit "${promoter_unit}")
string(REPLACE "file:///usr/local/share/doc/promoter/" "file:///usr/share/doc/promoter/" promoter_unit "${promoter_unit}")
file(WRITE ${CMAKE_BINARY_DIR}/generated/promoterd.service "${promoter_unit}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/deploy/systemd/promoterd.service)
# /lib, not /usr/lib: Debian 12 packages keep shipping units there (the merged-/usr moratorium, DEP 17).
install(FILES ${CMAKE_BINARY_DIR}/generated/promoterd.service DESTINATION /lib/systemd/system)
install(FILES deploy/systemd/promoter.sysusers.conf DESTINATION /lib/sysusers.d RENAME promoter.conf)
install(FILES deploy/systemd/promoter.tmpfiles.conf DESTINATION /lib/tmpfiles.d RENAME promoter.conf)
# Absolute: /etc whatever the prefix. Both are conffiles: an upgrade keeps the operator's edits.
install(FILES conf/promoter.toml DESTINATION /etc/promoter PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES deploy/systemd/promoterd.env.example DESTINATION /etc/promoter RENAME promoterd.env
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES README.md deploy/prometheus/rules.yml deploy/grafana/promoter.json daemon/openapi.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

file(WRITE ${CMAKE_BINARY_DIR}/generated/debian/conffiles "/etc/promoter/promoter.toml\n/etc/promoter/promoterd.env\n")
foreach(script postinst prerm postrm)
  configure_file(deploy/debian/${script} ${CMAKE_BINARY_DIR}/generated/debian/${script} COPYONLY)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME promoter)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "promoter maintainers <promoter@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "promotes releases from staging to production under a change-management policy")
set(CPACK_PACKAGE_DESCRIPTION "promoterd makes a release policy executable: soak, smoke, approvals by someone other \
than the author, migrations before restarts, a journalled promotion that never repeats or skips a step, hotfix \
obligations. promotectl is its operator CLI.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# Depends from the shared libraries the binaries link (dpkg-shlibdeps), plus what the maintainer scripts use and
# tzdata, which freeze windows read their time zones from at run time.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, tzdata")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/generated/debian/conffiles ${CMAKE_BINARY_DIR}/generated/debian/postinst
    ${CMAKE_BINARY_DIR}/generated/debian/prerm ${CMAKE_BINARY_DIR}/generated/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
