# SPDX-License-Identifier: MIT
# Run by `cmake --install` (dist/CMakeLists.txt sets T2S_UNIT_BUILD_DIR, T2S_UNITDIR,
# T2S_SBIN_REL, T2S_SYSCONF_REL first): the units name the program and the configuration
# where this install puts them, so `--prefix` at install time is followed too. DESTDIR
# is file(INSTALL)'s.
function(t2s_abs out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
t2s_abs(T2S_SBINDIR "${T2S_SBIN_REL}")
t2s_abs(unitdir "${T2S_UNITDIR}")
# GNUInstallDirs' rule: with the prefix /usr, the configuration is in /etc.
if(NOT IS_ABSOLUTE "${T2S_SYSCONF_REL}" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(T2S_SYSCONFDIR "/${T2S_SYSCONF_REL}")
else()
  t2s_abs(T2S_SYSCONFDIR "${T2S_SYSCONF_REL}")
endif()
foreach(unit tun2socks.service tun2socks@.service)
  configure_file("${T2S_UNIT_BUILD_DIR}/${unit}.in" "${T2S_UNIT_BUILD_DIR}/install/${unit}" @ONLY)
  file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${T2S_UNIT_BUILD_DIR}/install/${unit}")
endforeach()
