# cmake/install.cmake - what `cmake --install` puts under the prefix.
#
#   include/dtx/*.h                       the public headers
#   lib/libdtx.so*, lib/libdtx.a          the shared and the static library
#   lib/cmake/dtx/                        the CMake package: find_package(dtx CONFIG)
#                                         gives dtx::dtx (shared) and dtx::dtx_static
#   lib/pkgconfig/dtx.pc                  pkg-config: `pkg-config --libs dtx`, and
#                                         `--static` for libdtx.a's own dependencies
#
# Included at the end of the top-level CMakeLists.txt, after the targets exist.
# The package and dtx.pc are relocatable: they find the prefix from where they
# lie, so `cmake --install build --prefix DIR` works for any DIR.
# tests/install/check.sh builds a program against an installed copy both ways.

include(CMakePackageConfigHelpers)

set(DTX_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/dtx"
    CACHE STRING "Where the CMake package files go, relative to the prefix")
set(DTX_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where dtx.pc goes, relative to the prefix")

# ---- headers and libraries ------------------------------------------------------
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dtx
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

install(TARGETS dtx dtx_static
        EXPORT dtxTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- the CMake package ----------------------------------------------------------
# libdtx.a carries its link dependencies (Threads, libm, and with CUDA the static
# CUDA runtime) as $<LINK_ONLY:...> entries; dtxConfig.cmake finds them again.
set(DTX_CONFIG_HAVE_CUDA ${DTX_HAVE_CUDA})
set(DTX_CONFIG_CUDART_STATIC "")
set(DTX_CONFIG_CUDA_ROOT "")
if(DTX_HAVE_CUDA)
  if(TARGET CUDA::cudart_static)
    get_target_property(DTX_CONFIG_CUDART_STATIC CUDA::cudart_static IMPORTED_LOCATION)
  endif()
  if(CUDAToolkit_BIN_DIR)
    get_filename_component(DTX_CONFIG_CUDA_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
  endif()
endif()

install(EXPORT dtxTargets
        NAMESPACE dtx::
        FILE dtxTargets.cmake
        DESTINATION ${DTX_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/dtxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/dtxConfig.cmake
  INSTALL_DESTINATION ${DTX_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API, so only the same minor version matches.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/dtxConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/dtxConfig.cmake ${PROJECT_BINARY_DIR}/cmake/dtxConfigVersion.cmake
        DESTINATION ${DTX_INSTALL_CMAKEDIR})

# ---- pkg-config -------------------------------------------------------------------
# prefix is derived from ${pcfiledir} so the file stays right after relocation.
if(IS_ABSOLUTE "${DTX_INSTALL_PKGCONFIGDIR}")
  set(DTX_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _dtx_pc_up "/dtx-prefix/${DTX_INSTALL_PKGCONFIGDIR}" "/dtx-prefix")
  string(REGEX REPLACE "/$" "" _dtx_pc_up "${_dtx_pc_up}")
  set(DTX_PC_PREFIX "\${pcfiledir}/${_dtx_pc_up}")
endif()
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(DTX_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(DTX_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()

# What a static link of libdtx.a needs besides libdtx.a itself.
set(DTX_PC_LIBS_PRIVATE "-lpthread -lm")
if(DTX_BLAS_PC_LIBS)
  string(APPEND DTX_PC_LIBS_PRIVATE " ${DTX_BLAS_PC_LIBS}")
endif()
if(DTX_HWY_PC_LIBS)
  string(APPEND DTX_PC_LIBS_PRIVATE " ${DTX_HWY_PC_LIBS}")
endif()
if(DTX_FFTW_PC_LIBS)
  string(APPEND DTX_PC_LIBS_PRIVATE " ${DTX_FFTW_PC_LIBS}")
endif()
if(DTX_SLEEF_PC_LIBS)
  string(APPEND DTX_PC_LIBS_PRIVATE " ${DTX_SLEEF_PC_LIBS}")
endif()
if(DTX_HAVE_CUDA)
  string(APPEND DTX_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -ldl -lrt")
endif()
if(DTX_HAVE_JANSSON)
  string(APPEND DTX_PC_LIBS_PRIVATE " -ljansson")
endif()

configure_file(${CMAKE_CURRENT_LIST_DIR}/dtx.pc.in ${PROJECT_BINARY_DIR}/dtx.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dtx.pc DESTINATION ${DTX_INSTALL_PKGCONFIGDIR})
