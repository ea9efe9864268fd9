# tests/diag.cmake - the diagnostics' end-to-end tests (labels `unit;cli`):
#
#   diag_summary_cli   `dtx demo` with DTX_TRACE, then `dtx trace summary` on
#                      its trace: exit 0, at most 80 columns, a critical path
#   diag_browser       `dtx trace html` on such a trace, loaded by headless
#                      Chromium (--dump-dom): the page's script ran (body
#                      data-ready="1"), no script error (data-error), and it
#                      drew one rectangle per "X" event of the trace
#
# Included by tests/CMakeLists.txt; each test runs this file in script mode.
# A test prints "SKIPPED: <why>" (ctest shows it skipped) when this build
# cannot read traces (no libjansson) or, for diag_browser, when no Chromium is
# installed (Debian: apt-get install chromium). Also labels the diag test
# programs that start threads `sched`, so CI runs them under ThreadSanitizer.

if(CMAKE_SCRIPT_MODE_FILE)
  # ---- script mode ---------------------------------------------------------------
  file(MAKE_DIRECTORY "${WORK}")
  set(trace "${WORK}/${MODE}_trace.json")
  file(REMOVE "${trace}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env DTX_TRACE=${trace} DTX_PROGRESS=0
                          ${DTX_PROGRAM} demo --small --tasks 8
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dtx demo failed (${rc}):\n${out}\n${err}")
  endif()
  file(READ "${trace}" text)
  string(REGEX MATCHALL "\"ph\":\"X\"" xs "${text}")
  list(LENGTH xs nslices)
  message("trace ${trace}: ${nslices} slices")

  if(MODE STREQUAL "summary")
    execute_process(COMMAND ${DTX_PROGRAM} trace summary ${trace}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    message("--- stdout ---\n${out}--- stderr ---\n${err}--- exit status: ${rc}")
    if(err MATCHES "libjansson")
      message("SKIPPED: this build of dtx has no libjansson (apt-get install libjansson-dev)")
      return()
    endif()
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "dtx trace summary failed (${rc})")
    endif()
    string(REPLACE "\n" ";" lines "${out}")
    foreach(line IN LISTS lines)
      string(LENGTH "${line}" n)
      if(n GREATER 80)
        message(FATAL_ERROR "a line of ${n} columns: '${line}'")
      endif()
    endforeach()
    # (which worker ran the tasks depends on timing: any worker track will do)
    foreach(want "wall time [0-9.]+ [num]?s, ${nslices} slices" "dtx host / worker [0-9]+" "hits +16 "
                 "Critical path [0-9.]+ [num]?s over [0-9]+ slices" "Errors: 0")
      if(NOT out MATCHES "${want}")
        message(FATAL_ERROR "the summary lacks '${want}'")
      endif()
    endforeach()
    return()
  endif()

  # MODE browser
  set(page "${WORK}/browser_page.html")
  file(REMOVE "${page}")
  execute_process(COMMAND ${DTX_PROGRAM} trace html ${trace} -o ${page}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(err MATCHES "libjansson")
    message("SKIPPED: this build of dtx has no libjansson (apt-get install libjansson-dev)")
    return()
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dtx trace html failed (${rc}):\n${out}\n${err}")
  endif()
  find_program(CHROMIUM NAMES chromium chromium-browser google-chrome-stable google-chrome)
  if(NOT CHROMIUM)
    message("SKIPPED: no Chromium to load the page (apt-get install chromium)")
    return()
  endif()
  file(MAKE_DIRECTORY "${WORK}/chromium-profile")
  execute_process(COMMAND ${CHROMIUM} --headless --disable-gpu --no-sandbox --no-first-run
                          --user-data-dir=${WORK}/chromium-profile --dump-dom file://${page}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE dom ERROR_VARIABLE err TIMEOUT 90)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CHROMIUM} failed (${rc}):\n${err}")
  endif()
  string(REGEX MATCH "<body[^>]*>" body "${dom}")
  message("body: ${body}")
  if(NOT body MATCHES "data-ready=\"1\"")
    message(FATAL_ERROR "the page's script did not finish: ${body}")
  endif()
  if(body MATCHES "data-error")
    string(REGEX MATCH "<p id=\"errors\">[^<]*" why "${dom}")
    message(FATAL_ERROR "the page reported a script error: ${why}")
  endif()
  string(REGEX MATCH "<span id=\"drawn\">([0-9]+)</span>" drawn "${dom}")
  if(NOT CMAKE_MATCH_1 EQUAL nslices)
    message(FATAL_ERROR "the page drew '${CMAKE_MATCH_1}' slices; the trace has ${nslices}")
  endif()
  message("chromium drew ${CMAKE_MATCH_1} slices of ${nslices}")
  return()
endif()

foreach(t diag_progress_test diag_report_test)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES LABELS "unit;sched")
  endif()
endforeach()

if(NOT TARGET dtx_cli)
  return()
endif()
foreach(mode summary browser)
  add_test(NAME diag_${mode}_cli
           COMMAND ${CMAKE_COMMAND} -DMODE=${mode} -DDTX_PROGRAM=$<TARGET_FILE:dtx_cli>
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/diag_${mode} -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(diag_${mode}_cli PROPERTIES LABELS "unit;cli" TIMEOUT 180 SKIP_REGULAR_EXPRESSION "SKIPPED:")
endforeach()
