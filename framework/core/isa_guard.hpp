#pragma once
// The build-ISA guard. With RECEPTIVE_NATIVE (the default) every file is compiled with -march=native, so the
// binary may use any instruction of the CPU that built it. Run on a CPU without one of them (a binary copied to
// another node of an MPI job, a build folder reused after the machine changed) it would die of SIGILL somewhere
// later, or in the middle of a run. Instead, before main and before any other static initializer of the program,
// a check compiled for plain x86-64 (isa_guard.cpp) compares the features this build was compiled for with the
// CPU's (cpuid, and the OS's XCR0 for the AVX and AVX-512 register state) and, when any is missing, prints them,
// the CPU and what to do, and exits with status 1.
//
// This header is plain declarations: the guard's file must not share inline functions with the native files
// (the linker keeps one copy of each, which could be the native one).
#include <cstddef>
#include <cstdio>

namespace rc::isa {

// The CPU features this build's code was compiled for, from the compiler's target macros (lower-case names as
// GCC's -m flags spell them: "avx2", "fma", "avx512f", ...), ending with nullptr. Empty for a portable build.
extern const char* const kBuildFeatures[];

// Whether a feature name is one the guard knows how to detect (every name kBuildFeatures can hold).
bool known(const char* name);

// Whether this CPU has the feature and the OS has enabled its register state; false for an unknown name.
bool cpu_has(const char* name);

// The names of `required` (ending with nullptr) for which has(name) is false, written into buf (size bytes,
// always terminated, cut short if too small) as "a, b, c"; returns how many there are.
int missing(const char* const* required, bool (*has)(const char*), char* buf, size_t size);

// What the guard does: when any of `required` is missing, writes the error (the missing names, the CPU's model
// name, how to rebuild) to `out`; returns the number missing. The guard then exits with status 1.
int check(const char* const* required, bool (*has)(const char*), std::FILE* out);

}  // namespace rc::isa
