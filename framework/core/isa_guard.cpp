// The build-ISA guard (isa_guard.hpp). Compiled for plain x86-64 (framework/CMakeLists.txt), and uses only C
// library calls and cpuid.h's static functions, so that nothing here can be an instruction this CPU lacks.
#include "framework/core/isa_guard.hpp"

#include <cpuid.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace rc::isa {
namespace {

enum State { kNone, kAvxState, kAvx512State };  // the register state the OS must have enabled (XCR0)
enum Reg { kEax, kEbx, kEcx, kEdx };
struct Bit {
  const char* name;
  unsigned leaf, subleaf;
  Reg reg;
  int bit;
  State state;
};
// Intel SDM vol. 2A, CPUID: leaf 1 and leaf 7 (sub-leaves 0 and 1)
constexpr Bit kBits[] = {
    {"popcnt", 1, 0, kEcx, 23, kNone},           {"sse4.2", 1, 0, kEcx, 20, kNone},
    {"avx", 1, 0, kEcx, 28, kAvxState},          {"fma", 1, 0, kEcx, 12, kAvxState},
    {"f16c", 1, 0, kEcx, 29, kAvxState},         {"avx2", 7, 0, kEbx, 5, kAvxState},
    {"bmi", 7, 0, kEbx, 3, kNone},               {"bmi2", 7, 0, kEbx, 8, kNone},
    {"avxvnni", 7, 1, kEax, 4, kAvxState},       {"avx512f", 7, 0, kEbx, 16, kAvx512State},
    {"avx512dq", 7, 0, kEbx, 17, kAvx512State},  {"avx512ifma", 7, 0, kEbx, 21, kAvx512State},
    {"avx512cd", 7, 0, kEbx, 28, kAvx512State},  {"avx512bw", 7, 0, kEbx, 30, kAvx512State},
    {"avx512vl", 7, 0, kEbx, 31, kAvx512State},  {"avx512vbmi", 7, 0, kEcx, 1, kAvx512State},
    {"avx512vbmi2", 7, 0, kEcx, 6, kAvx512State}, {"avx512vnni", 7, 0, kEcx, 11, kAvx512State},
    {"avx512bitalg", 7, 0, kEcx, 12, kAvx512State}, {"avx512vpopcntdq", 7, 0, kEcx, 14, kAvx512State},
    {"avx512bf16", 7, 1, kEax, 5, kAvx512State}, {"avx512fp16", 7, 0, kEdx, 23, kAvx512State},
};

const Bit* find(const char* name) {
  for (const Bit& b : kBits)
    if (std::strcmp(b.name, name) == 0) return &b;
  return nullptr;
}

// The OS's enabled register state (XCR0), 0 when the OS does not use XSAVE (then no AVX state either).
unsigned long long xcr0() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;  // OSXSAVE
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

// The CPU's "model name" line of /proc/cpuinfo, or "this CPU".
void cpu_name(char* out, size_t size) {
  std::snprintf(out, size, "this CPU");
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "model name", 10) != 0) continue;
    const char* colon = std::strchr(line, ':');
    if (!colon) break;
    colon += colon[1] == ' ' ? 2 : 1;
    std::snprintf(out, size, "%s", colon);
    out[std::strcspn(out, "\n")] = 0;
    break;
  }
  std::fclose(f);
}

}  // namespace

bool known(const char* name) { return find(name) != nullptr; }

bool cpu_has(const char* name) {
  const Bit* b = find(name);
  if (!b) return false;
  if (__get_cpuid_max(0, nullptr) < b->leaf) return false;
  unsigned r[4];
  __cpuid_count(b->leaf, b->subleaf, r[kEax], r[kEbx], r[kEcx], r[kEdx]);
  if (!(r[b->reg] & (1u << b->bit))) return false;
  const unsigned long long x = b->state == kNone ? 0 : xcr0();
  if (b->state == kAvxState && (x & 0x6) != 0x6) return false;           // XMM and YMM state
  if (b->state == kAvx512State && (x & 0xE6) != 0xE6) return false;      // and opmask, ZMM_Hi256, Hi16_ZMM
  return true;
}

int missing(const char* const* required, bool (*has)(const char*), char* buf, size_t size) {
  int n = 0;
  size_t used = 0;
  if (size) buf[0] = 0;
  for (const char* const* f = required; *f; ++f) {
    if (has(*f)) continue;
    if (used < size) {
      const int w = std::snprintf(buf + used, size - used, "%s%s", n ? ", " : "", *f);
      used += w > 0 ? static_cast<size_t>(w) : 0;
    }
    ++n;
  }
  return n;
}

int check(const char* const* required, bool (*has)(const char*), std::FILE* out) {
  char names[512];
  const int n = missing(required, has, names, sizeof names);
  if (n == 0) return 0;
  char cpu[256];
  cpu_name(cpu, sizeof cpu);
  std::fprintf(out,
               "error: this program was compiled for the CPU of the machine that built it (-march=native, CMake "
               "option RECEPTIVE_NATIVE) and uses instructions that %s lacks: %s.\n"
               "Build it again on this machine in a fresh build folder (cmake -S . -B build-here && cmake --build "
               "build-here), or configure with -DRECEPTIVE_NATIVE=OFF for a binary that runs on any x86-64 CPU.\n",
               cpu, names);
  std::fflush(out);
  return n;
}

namespace {
// Before every other static initializer of the program (priority 101 is the first one open to programs).
__attribute__((constructor(101))) void guard() {
  if (check(kBuildFeatures, cpu_has, stderr)) _exit(1);
}
}  // namespace

}  // namespace rc::isa

// The link option -u rc_isa_guard_anchor (framework/CMakeLists.txt) makes every program that links the framework
// take this file from the static library, so the guard runs even in programs that call nothing of it.
extern "C" {
int rc_isa_guard_anchor = 0;
}
