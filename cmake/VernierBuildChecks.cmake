# The compiler checks every target we own is built with.
#
#   vernier_warnings      INTERFACE library: -Wall -Wextra -Wshadow, plus
#                         -Wthread-safety under clang (checks ABSL_GUARDED_BY
#                         and friends), plus -Werror with VERNIER_WERROR=ON.
#   vernier_own_targets() links vernier_warnings into every library and
#                         executable defined under the source tree, so a new
#                         target cannot be forgotten (called once, at the end
#                         of the root CMakeLists). Generated code is skipped.

option(VERNIER_WERROR "Treat compiler warnings as errors (CI sets it)" OFF)

# Sanitizers on every target, tests included (clang; the asan and tsan presets
# of CMakePresets.json): e.g. "address,undefined" or "thread". UBSan findings
# stop the program, so a test with undefined behaviour fails.
set(VERNIER_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined | thread")
if(VERNIER_SANITIZE)
  add_compile_options(-fsanitize=${VERNIER_SANITIZE} -fno-omit-frame-pointer)
  if(VERNIER_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  add_link_options(-fsanitize=${VERNIER_SANITIZE})
endif()
# TSan cannot see Debian's uninstrumented absl::Mutex; this shim, linked into
# every executable of a TSan build, tells it (see the file).
if(VERNIER_SANITIZE MATCHES "thread")
  add_library(vernier_tsan_absl OBJECT ${CMAKE_CURRENT_LIST_DIR}/tsan/absl_mutex_tsan.cc)
  target_link_libraries(vernier_tsan_absl PUBLIC absl::synchronization absl::time ${CMAKE_DL_LIBS})
endif()

add_library(vernier_warnings INTERFACE)
# -Wno-missing-field-initializers: every hit of it here is a deliberate
# aggregate with defaulted trailing members (Replay{strategy}, table rows of
# BuiltinParam, Assignment{{}, trial}); filling them in would be noise.
target_compile_options(vernier_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wno-missing-field-initializers
  $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety>
  $<$<BOOL:${VERNIER_WERROR}>:-Werror>)

# Targets compiled from generated code: protoc's output is not ours to fix.
set(VERNIER_GENERATED_TARGETS vernier_proto)

# Warnings known in files that other changes are rewriting: still printed,
# but not errors under VERNIER_WERROR. Entries are "target|source (from the
# repository root)|warning"; delete each one as its file is fixed. Empty: every
# file builds clean.
set(VERNIER_KNOWN_WARNINGS)

function(_vernier_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _vernier_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(vernier_own_targets)
  _vernier_collect_targets(${PROJECT_SOURCE_DIR} targets)
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$"
       AND NOT target IN_LIST VERNIER_GENERATED_TARGETS)
      target_link_libraries(${target} PRIVATE vernier_warnings)
    endif()
    if(type STREQUAL "EXECUTABLE" AND TARGET vernier_tsan_absl)
      target_link_libraries(${target} PRIVATE vernier_tsan_absl)
    endif()
  endforeach()
  foreach(entry ${VERNIER_KNOWN_WARNINGS})
    string(REPLACE "|" ";" fields "${entry}")
    list(GET fields 0 target)
    list(GET fields 1 source)
    list(GET fields 2 warning)
    set_property(SOURCE ${PROJECT_SOURCE_DIR}/${source} TARGET_DIRECTORY ${target}
                 APPEND PROPERTY COMPILE_OPTIONS -Wno-error=${warning})
  endforeach()
endfunction()
