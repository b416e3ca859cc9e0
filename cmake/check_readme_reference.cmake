# ctest `readme_reference`: the README's last section, "Reference (output of `receptive list --markdown`)", must be
# exactly what the built binary prints, so an added or changed model, dataset, policy or option cannot leave the
# README's reference stale. Fix a failure by replacing everything after the section's heading with the output:
#   ./build/receptive list --markdown
# Called as: cmake -DBIN=<receptive> -DREADME=<README.md> -P check_readme_reference.cmake
execute_process(COMMAND ${BIN} list --markdown OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} list --markdown failed (exit ${rc})")
endif()
file(READ ${README} readme)
set(heading "## Reference (output of `receptive list --markdown`)\n\n")
string(FIND "${readme}" "${heading}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README}: no line '## Reference (output of `receptive list --markdown`)' followed by an "
                      "empty line")
endif()
string(LENGTH "${heading}" n)
math(EXPR at "${at} + ${n}")
string(SUBSTRING "${readme}" ${at} -1 reference)
if(NOT reference STREQUAL listing)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/readme_reference_expected.md "${listing}")
  message(FATAL_ERROR "${README}: the section 'Reference (output of `receptive list --markdown`)' differs from "
                      "what `receptive list --markdown` prints now (written to "
                      "${CMAKE_CURRENT_BINARY_DIR}/readme_reference_expected.md; compare with diff and paste it "
                      "after the heading)")
endif()
