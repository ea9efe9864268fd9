# tests/cli.cmake - ctest tests of the `dtx` program (labels `unit;cli`).
#
# Included by tests/CMakeLists.txt. Each test runs this same file in CMake
# script mode (cmake -P), which runs dtx once and checks its exit status, its
# stdout and its stderr against regular expressions (and optionally that a
# file was written). A PASS_REGULAR_EXPRESSION property alone would ignore the
# exit status, passing a run that printed the right line and then crashed.
#
# The demo's random numbers are keyed by (seed, task, sample), so the hit count
# of `dtx demo --small` is one number whatever the scheduler or thread count;
# the tests pin it.

if(CMAKE_SCRIPT_MODE_FILE)
  # ---- script mode: run one dtx command and check it -------------------------
  separate_arguments(args UNIX_COMMAND "${DTX_ARGS}")
  if(DEFINED EXPECT_FILE)
    file(REMOVE "${EXPECT_FILE}")
  endif()
  execute_process(COMMAND ${DTX_PROGRAM} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("$ dtx ${DTX_ARGS}\n--- stdout ---\n${out}--- stderr ---\n${err}--- exit status: ${rc}")
  if(NOT rc STREQUAL "${EXPECT_RC}")
    message(FATAL_ERROR "dtx ${DTX_ARGS}: exit status ${rc}, expected ${EXPECT_RC}")
  endif()
  if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
    message(FATAL_ERROR "dtx ${DTX_ARGS}: stdout does not match '${EXPECT_STDOUT}'")
  endif()
  if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
    message(FATAL_ERROR "dtx ${DTX_ARGS}: stderr does not match '${EXPECT_STDERR}'")
  endif()
  if(DEFINED EXPECT_FILE)
    if(NOT EXISTS "${EXPECT_FILE}")
      message(FATAL_ERROR "dtx ${DTX_ARGS}: ${EXPECT_FILE} was not written")
    endif()
    file(SIZE "${EXPECT_FILE}" size)
    if(size EQUAL 0)
      message(FATAL_ERROR "dtx ${DTX_ARGS}: ${EXPECT_FILE} is empty")
    endif()
  endif()
  return()
endif()

if(NOT TARGET dtx_cli)
  return() # the program is not built (DTX_BUILD_TOOLS=OFF)
endif()

set(DTX_CLI_SCRIPT ${CMAKE_CURRENT_LIST_FILE})

# dtx_cli_test(<name> ARGS "<dtx arguments>" [RC <status>] [STDOUT <regex>]
#              [STDERR <regex>] [FILE <path that must exist>] [ENV VAR=value...])
function(dtx_cli_test name)
  cmake_parse_arguments(T "" "ARGS;RC;STDOUT;STDERR;FILE" "ENV" ${ARGN})
  if(NOT DEFINED T_RC)
    set(T_RC 0)
  endif()
  set(defs "-DDTX_PROGRAM=$<TARGET_FILE:dtx_cli>" "-DDTX_ARGS=${T_ARGS}" "-DEXPECT_RC=${T_RC}")
  foreach(what STDOUT STDERR FILE)
    if(DEFINED T_${what})
      list(APPEND defs "-DEXPECT_${what}=${T_${what}}")
    endif()
  endforeach()
  add_test(NAME cli_${name} COMMAND ${CMAKE_COMMAND} ${defs} -P ${DTX_CLI_SCRIPT})
  set_tests_properties(cli_${name} PROPERTIES LABELS "unit;cli" TIMEOUT 120)
  if(T_ENV)
    set_tests_properties(cli_${name} PROPERTIES ENVIRONMENT "${T_ENV}")
  endif()
endfunction()

# `dtx demo --small`: 64 tasks x 100,000 samples, seed 42.
set(pi_small "pi ~ 3\\.14[0-9]+ \\(error [0-9.e+-]+, 6,400,000 samples")
set(counts_small "same counts as Part 1 \\(5,027,570 hits\\)")

dtx_cli_test(help ARGS "--help" STDOUT "usage: dtx <command>.*info.*demo.*version")
dtx_cli_test(help_command ARGS "help" STDOUT "usage: dtx <command>")
dtx_cli_test(version ARGS "version" STDOUT "^dtx [0-9]+\\.[0-9]+\\.[0-9]+ \\(library [0-9]+\\.[0-9]+")
dtx_cli_test(info ARGS "info" STDOUT "[Ss]cheduler.*environment \\(DTX_\\* set\\)")
# Every setting with its value and where it came from (field, env or default).
dtx_cli_test(info_settings ARGS "info" ENV "DTX_GPU_WINDOW=8"
             STDOUT "setting +value +from\n.*num_threads +[0-9]+ \\(cores\\) +default\n.*gpu_window +8 +env \\(DTX_GPU_WINDOW\\)\n.*p2p +auto +default\n.*environment \\(DTX_\\* set\\):.*\n +DTX_GPU_WINDOW=8")
dtx_cli_test(demo_small ARGS "demo --small" STDOUT "Part 1 \\(futures\\).*${pi_small}.*Part 2 \\(task graph\\).*${counts_small}")
dtx_cli_test(demo_small_sync ARGS "demo --small" ENV "DTX_SCHEDULER=sync"
             STDOUT "scheduler sync.*${pi_small}.*${counts_small}")
dtx_cli_test(demo_small_one_thread ARGS "demo --small" ENV "DTX_NUM_THREADS=1" STDOUT "${pi_small}.*${counts_small}")
dtx_cli_test(demo_trace ARGS "demo --small --tasks 8" ENV "DTX_TRACE=${CMAKE_CURRENT_BINARY_DIR}/cli_demo_trace.json"
             STDOUT "trace written to [^\n]*cli_demo_trace\\.json" FILE "${CMAKE_CURRENT_BINARY_DIR}/cli_demo_trace.json")
dtx_cli_test(bad_command ARGS "frobnicate" RC 2 STDOUT "^$" STDERR "unknown command 'frobnicate'.*usage: dtx <command>")
dtx_cli_test(no_command ARGS "" RC 2 STDERR "usage: dtx <command>")
dtx_cli_test(demo_bad_option ARGS "demo --tasks 0" RC 2 STDERR "--tasks wants 1\\.\\.1000000.*usage: dtx")
dtx_cli_test(demo_task_failure ARGS "demo --small --fail-task 5" RC 1 STDERR "hits\\[5\\].*failure injected by --fail-task 5")

# `dtx trace`: usage errors exit 2, unreadable traces exit 1 naming the file.
dtx_cli_test(trace_no_command ARGS "trace" RC 2 STDERR "summary or html.*usage:.*summary FILE\\.json")
dtx_cli_test(trace_bad_command ARGS "trace draw x.json" RC 2 STDERR "unknown trace command 'draw'")
dtx_cli_test(trace_html_needs_output ARGS "trace html x.json" RC 2 STDERR "html needs -o OUT\\.html")
dtx_cli_test(trace_missing_file ARGS "trace summary ${CMAKE_CURRENT_BINARY_DIR}/no_such_trace.json" RC 1
             STDERR "dtx trace summary: (cannot open trace '[^']*no_such_trace\\.json'|reading traces needs libjansson)")
dtx_cli_test(help_lists_trace ARGS "help" STDOUT "trace +read a profile trace back.*DTX_REPORT")
