// The build-ISA guard (framework/core/isa_guard.hpp): its own cpuid reading against the compiler's, the build's
// feature list against the compiler's target macros, and the message for a CPU that lacks features.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "framework/core/backend.hpp"
#include "framework/core/isa_guard.hpp"

using namespace rc;

namespace {
std::vector<std::string> build_features() {
  std::vector<std::string> v;
  for (const char* const* f = isa::kBuildFeatures; *f; ++f) v.emplace_back(*f);
  return v;
}
bool has_feature(const std::vector<std::string>& v, const char* name) {
  for (const auto& s : v)
    if (s == name) return true;
  return false;
}
}  // namespace

TEST_CASE("isa guard: the guard's cpuid reading agrees with the compiler's on every feature both know") {
  __builtin_cpu_init();
  INFO(machine_line());
  // (GCC's names; the guard also checks that the OS enabled the registers, which a CPU reporting the feature
  // under Linux always has)
#define SAME(name) CHECK(isa::cpu_has(name) == (__builtin_cpu_supports(name) != 0))
  SAME("popcnt");
  SAME("sse4.2");
  SAME("avx");
  SAME("avx2");
  SAME("fma");
  SAME("bmi");
  SAME("bmi2");
  SAME("avx512f");
  SAME("avx512dq");
  SAME("avx512cd");
  SAME("avx512bw");
  SAME("avx512vl");
  SAME("avx512ifma");
  SAME("avx512vbmi");
  SAME("avx512vbmi2");
  SAME("avx512vnni");
  SAME("avx512bitalg");
  SAME("avx512vpopcntdq");
#undef SAME
  CHECK_FALSE(isa::cpu_has("no-such-feature"));
  CHECK_FALSE(isa::known("no-such-feature"));
}

TEST_CASE("isa guard: the build's features are the compiler's target macros, all known and all on this CPU") {
  const auto v = build_features();
  INFO("build ISA " << build_isa() << ", " << v.size() << " features");
  for (const auto& f : v) {
    INFO(f);
    CHECK(isa::known(f.c_str()));
    CHECK(isa::cpu_has(f.c_str()));  // this test runs, so the CPU has them
  }
#ifdef __AVX2__
  CHECK(has_feature(v, "avx2"));
#else
  CHECK_FALSE(has_feature(v, "avx2"));
#endif
#ifdef __FMA__
  CHECK(has_feature(v, "fma"));
#endif
#ifdef __AVX512F__
  CHECK(has_feature(v, "avx512f"));
  CHECK(build_isa().rfind("AVX-512", 0) == 0);
#else
  CHECK_FALSE(has_feature(v, "avx512f"));
#endif
}

TEST_CASE("isa guard: a CPU without the build's features gets a message naming them, the CPU and the fix") {
  const char* const required[] = {"avx2", "fma", "avx512f", "avx512bw", nullptr};
  // a pretend CPU with AVX2 and FMA only
  auto avx2_only = [](const char* name) { return std::strcmp(name, "avx2") == 0 || std::strcmp(name, "fma") == 0; };
  char buf[64];
  CHECK(isa::missing(required, avx2_only, buf, sizeof buf) == 2);
  CHECK(std::string(buf) == "avx512f, avx512bw");
  char tiny[10];  // cut short, still terminated, still counted
  CHECK(isa::missing(required, avx2_only, tiny, sizeof tiny) == 2);
  CHECK(std::strlen(tiny) < sizeof tiny);
  CHECK(std::string("avx512f, avx512bw").rfind(tiny, 0) == 0);

  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  CHECK(isa::check(required, avx2_only, out) == 2);
  std::rewind(out);
  std::string text;
  char chunk[256];
  while (std::fgets(chunk, sizeof chunk, out)) text += chunk;
  std::fclose(out);
  CHECK(text.find("lacks: avx512f, avx512bw.") != std::string::npos);
  CHECK(text.find(cpu_info().model_name) != std::string::npos);
  CHECK(text.find("-DRECEPTIVE_NATIVE=OFF") != std::string::npos);

  auto everything = [](const char*) { return true; };
  std::FILE* quiet = std::tmpfile();
  CHECK(isa::check(required, everything, quiet) == 0);
  CHECK(std::ftell(quiet) == 0);
  std::fclose(quiet);
}
