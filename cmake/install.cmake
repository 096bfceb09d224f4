# Install rules: headers, libkvtier.so (+ SONAME link) and libkvtier.a, the
# CMake package (find_package(kvtier 0.2) -> kvtier::kvtier, shared; the
# `static` component adds kvtier::kvtier_static), kvtier.pc and the Python
# package. Relocatable: `cmake --install build --prefix P` works for any P.
include(CMakePackageConfigHelpers)

set(KVTIER_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kvtier)
set(KVTIER_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/kvtier
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/kvtier/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kvtier)

install(TARGETS kvtier_shared EXPORT kvtierTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS kvtier EXPORT kvtierStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The CUDA copy engine module, where it was built: libkvtier loads it from
# here (OpenCudaCopyEngine) when a store first needs device memory.
if(TARGET kvtier_cuda)
  install(TARGETS kvtier_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(EXPORT kvtierTargets NAMESPACE kvtier:: DESTINATION ${KVTIER_CMAKE_DIR})
install(EXPORT kvtierStaticTargets NAMESPACE kvtier:: DESTINATION ${KVTIER_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kvtierConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kvtierConfig.cmake INSTALL_DESTINATION ${KVTIER_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kvtierConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kvtierConfig.cmake
              ${PROJECT_BINARY_DIR}/kvtierConfigVersion.cmake
        DESTINATION ${KVTIER_CMAKE_DIR})

# kvtier.pc finds its prefix from its own place (${pcfiledir}), so it is
# right wherever --prefix puts it.
file(RELATIVE_PATH KVTIER_PC_TO_PREFIX /prefix/${KVTIER_PKGCONFIG_DIR} /prefix)
string(REGEX REPLACE "/$" "" KVTIER_PC_TO_PREFIX "${KVTIER_PC_TO_PREFIX}")
# A static link (pkg-config --static) needs the private libraries; they are
# spelled out here rather than as Requires.private, so a consumer of the
# shared library needs none of their .pc files.
set(KVTIER_PC_MODULES absl_flat_hash_map absl_synchronization absl_hash libxxhash)
if(KVTIER_WITH_NVME)
  list(APPEND KVTIER_PC_MODULES liburing)
endif()
if(KVTIER_WITH_REMOTE)
  list(APPEND KVTIER_PC_MODULES hiredis)
endif()
if(KVTIER_WITH_NVME OR KVTIER_WITH_REMOTE)
  list(APPEND KVTIER_PC_MODULES libcrypto)
endif()
execute_process(COMMAND pkg-config --libs --static ${KVTIER_PC_MODULES}
  OUTPUT_VARIABLE KVTIER_PC_LIBS_PRIVATE OUTPUT_STRIP_TRAILING_WHITESPACE)
if(KVTIER_WITH_NVME)
  string(PREPEND KVTIER_PC_LIBS_PRIVATE "-lrocksdb ")
endif()
string(APPEND KVTIER_PC_LIBS_PRIVATE " -lstdc++ -lm -lpthread")
configure_file(${PROJECT_SOURCE_DIR}/cmake/kvtier.pc.in ${PROJECT_BINARY_DIR}/kvtier.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/kvtier.pc DESTINATION ${KVTIER_PKGCONFIG_DIR})
