// The GEMM backend reaches a fast kernel on every x86-64 CPU with AVX2 or AVX-512: what it reports is checked
// against the CPU's own feature flags (deterministic, no timing).
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <thread>

#include "framework/core/backend.hpp"
#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"

using namespace rc;

TEST_CASE("backend: no generic GEMM kernel on a CPU with AVX2, the widest kernel on a CPU with AVX-512") {
  const CpuInfo cpu = cpu_info();
  const GemmBackend b = gemm_backend();
  INFO(machine_line());
  CHECK(b.name.find("oneDNN") != std::string::npos);
  CHECK(!b.kernel.empty());
  if (cpu.avx2) {
    CHECK_FALSE(b.generic);
    CHECK(b.kernel.rfind("avx", 0) == 0);
  }
  if (cpu.avx512f) CHECK(b.kernel.rfind("avx512_core", 0) == 0);
  if (!cpu.avx2 && !cpu.avx512f) WARN("this CPU has no AVX2: a generic kernel is all it can run");
}

TEST_CASE("backend: the CPU's feature flags agree with /proc/cpuinfo and the build ISA is one the CPU runs") {
  const CpuInfo cpu = cpu_info();
  CHECK(!cpu.model_name.empty());
  CHECK(cpu.logical_cpus >= 1);
  CHECK(cpu.fp32_lanes() == (cpu.avx512f ? 16 : (cpu.avx2 && cpu.fma) ? 8 : 4));
  if (cpu.avx512f) CHECK(cpu.avx2);  // every AVX-512 CPU has AVX2
  const std::string isa = build_isa();
  if (isa.rfind("AVX-512", 0) == 0) CHECK(cpu.avx512f);  // the binary would not have started otherwise
  if (isa.rfind("AVX2", 0) == 0) CHECK(cpu.avx2);
  // the peak is threads × clock × lanes × 4 when the clock is known
  if (cpu.mhz > 0) CHECK(fp32_peak_gflops(cpu, 2) == Approx(2 * cpu.mhz * 1e-3 * cpu.fp32_lanes() * 4));
}

TEST_CASE("backend: the project's GEMM does not go through OpenBLAS") {
  // OpenBLAS may be in the process (Debian's OpenCV links it) but receptive's math must not depend on its table
  // of CPU models: the GEMM entry point is oneDNN's, and no receptive object references a cblas symbol.
  void* self = dlopen(nullptr, RTLD_NOW);
  REQUIRE(self != nullptr);
  CHECK(dlsym(self, "dnnl_sgemm") != nullptr);
  dlclose(self);
}

TEST_CASE("backend: the OpenMP pool of the backend stays at one thread on every calling thread") {
  // gemm calls oneDNN inside TBB tasks; each calling thread pins its own OpenMP team to itself, so --threads
  // bounds every computing thread. After a gemm on a fresh thread, that thread's OpenMP limit is 1.
  int seen = -1;
  std::thread t([&] {
    std::vector<float> a(64 * 64, 0.5f), b(64 * 64, 0.25f), c(64 * 64);
    gemm_serial(Op::N, Op::N, 64, 64, 64, 1.0f, a.data(), 64, b.data(), 64, 0.0f, c.data(), 64);
    seen = backend_threads_on_this_thread();
  });
  t.join();
  CHECK(seen == 1);
}
