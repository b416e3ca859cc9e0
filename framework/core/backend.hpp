#pragma once
// What the dense-math backend runs on: the CPU (model, ISA from its feature flags), the ISA this build was
// compiled for, the GEMM backend and the kernel it selected, the thread count, and the machine's fp32 peak.
//
// The GEMM backend is oneDNN's sgemm (dnnl_sgemm). oneDNN chooses its JIT kernel from the CPU's feature flags
// (cpuid: AVX2, AVX-512, AMX), never from a table of CPU models, so a CPU newer than the library still gets
// the widest kernel it supports. It is always called on one thread (inside the framework's own TBB tasks);
// its OpenMP pool is pinned to one thread per calling thread, so --threads bounds every computing thread.
#include <string>

namespace rc {

struct CpuInfo {
  std::string vendor;            // GenuineIntel, AuthenticAMD, ...
  std::string model_name;        // /proc/cpuinfo "model name"
  int family = 0, model = 0;     // cpuid family and model
  int logical_cpus = 0;          // hardware threads the process may use
  double mhz = 0;                // the highest clock known: cpufreq max, else "cpu MHz", else "@ x.xxGHz"
  std::string clock_source;      // where mhz came from (a VM often reports only the nominal clock)
  bool avx2 = false, fma = false, avx512f = false, avx512_bf16 = false, amx = false;
  // the widest fp32 vector a core can issue FMAs on: 16 (AVX-512), 8 (AVX2 + FMA), 4 (SSE)
  int fp32_lanes() const { return avx512f ? 16 : (avx2 && fma) ? 8 : 4; }
  std::string isa() const;       // e.g. "AVX-512 (BF16, AMX)", "AVX2+FMA"
};
CpuInfo cpu_info();

// The ISA this binary's own kernels were compiled for (from the compiler's target macros).
std::string build_isa();

struct GemmBackend {
  std::string name;     // "oneDNN 2.6.3 sgemm"
  std::string kernel;   // the ISA of the JIT kernel it selected: "avx2", "avx512_core", ... or "generic"
  bool generic = true;  // true when the selected kernel is below AVX2 (SSE4.1 / reference code)
};
GemmBackend gemm_backend();

// fp32 peak of `threads` cores: threads × clock × lanes × 2 (multiply-add) × 2 (two FMA units per core, true
// of every AVX2 core since Haswell / Zen and of server AVX-512 cores). 0 when the clock is unknown.
double fp32_peak_gflops(const CpuInfo& cpu, int threads);

// GFLOP/s of rc::gemm on 512×512×512 products, run for about `seconds` (what the models' GEMMs reach).
double gemm_probe_gflops(double seconds);

// The GEMM backend's own thread pool (Debian's oneDNN is built with OpenMP): the calling thread's limit on it.
// The framework keeps it at 1 on every thread that calls gemm, so that only the TBB arena computes in parallel.
// The OpenMP runtime is reached through the symbols oneDNN loaded (dlsym), so the build needs no OpenMP flags
// and works with GCC or clang. set_... returns false and get_... -1 when no OpenMP runtime is loaded.
bool set_backend_threads_on_this_thread(int n);
int backend_threads_on_this_thread();

// One line naming the CPU, the build ISA, the GEMM backend and kernel, and the thread count (benchmarks print it
// at their top so every number says where it was measured).
std::string machine_line();

}  // namespace rc
