# libFuzzer harnesses (tests/fuzz/fuzz_*.cpp), built when RECEPTIVE_FUZZ is ON (clang only): the library is then
# compiled with -fsanitize=fuzzer-no-link (coverage for the fuzzer) besides RECEPTIVE_SANITIZE, each harness
# links -fsanitize=fuzzer. scripts/fuzz.sh configures such a build in build-fuzz/ and runs every harness for N
# seconds on its seed corpus (tests/fuzz/corpus/<harness>/); each harness is also a ctest test `fuzz:<name>` that
# runs it for RECEPTIVE_FUZZ_SECONDS.
# In an ordinary build with the tests, when clang++ is installed, ctest's `fuzz_smoke` does the same in miniature:
# scripts/fuzz.sh builds the harnesses (unoptimised, to build fast) in <build>/fuzz-smoke and runs each for
# RECEPTIVE_FUZZ_SMOKE_SECONDS.
if(NOT RECEPTIVE_FUZZ)
  option(RECEPTIVE_FUZZ_SMOKE "ctest: build the fuzz harnesses with clang and run each briefly" ON)
  set(RECEPTIVE_FUZZ_SMOKE_SECONDS 10 CACHE STRING "seconds per harness in ctest's fuzz_smoke")
  set(RECEPTIVE_FUZZ_SMOKE_BUILD ${CMAKE_BINARY_DIR}/fuzz-smoke CACHE PATH "build folder of ctest's fuzz_smoke")
  set(RECEPTIVE_FUZZ_SMOKE_OPT Debug CACHE STRING "CMake build type of ctest's fuzz_smoke (Debug builds fastest)")
  find_program(RECEPTIVE_CLANGXX clang++)
  if(RECEPTIVE_BUILD_TESTS AND RECEPTIVE_FUZZ_SMOKE AND RECEPTIVE_CLANGXX)
    add_test(NAME fuzz_smoke
             COMMAND ${CMAKE_COMMAND} -E env FUZZ_BUILD=${RECEPTIVE_FUZZ_SMOKE_BUILD} FUZZ_OPT=${RECEPTIVE_FUZZ_SMOKE_OPT}
                     ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh ${RECEPTIVE_FUZZ_SMOKE_SECONDS})
    set_tests_properties(fuzz_smoke PROPERTIES TIMEOUT 1800)
  endif()
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "RECEPTIVE_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
endif()
set(RECEPTIVE_FUZZ_SECONDS 20 CACHE STRING "seconds each fuzz:<harness> ctest test runs its harness")
enable_testing()
foreach(lib ${RECEPTIVE_LAYER_LIBS})
  target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link)
endforeach()
file(GLOB RECEPTIVE_FUZZERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
foreach(src ${RECEPTIVE_FUZZERS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer -Wno-unknown-warning-option)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE rc_experiments)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${short})
  # a fresh copy of the seed corpus per run, so the committed one is never rewritten
  add_test(NAME fuzz:${short}
           COMMAND ${CMAKE_COMMAND} -E env TMPDIR=${CMAKE_BINARY_DIR}
                   ${CMAKE_SOURCE_DIR}/scripts/fuzz_one.sh $<TARGET_FILE:${name}> ${corpus} ${RECEPTIVE_FUZZ_SECONDS}
                   ${CMAKE_BINARY_DIR}/fuzz-work/${short})
endforeach()
