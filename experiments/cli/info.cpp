// `receptive info`: where the numbers of this machine come from — the CPU and its ISA, the ISA of this build,
// the GEMM backend and the kernel it selected, the thread count, and a short GEMM probe beside the fp32 peak.
#include <dlfcn.h>
#include <fmt/format.h>

#include "experiments/cli/commands.hpp"
#include "framework/core/backend.hpp"
#include "framework/core/parallel.hpp"

namespace rc::cli {

namespace {
// OpenBLAS is not used for any of receptive's math, but Debian's OpenCV links it, so it may sit in the process.
// Its core (chosen from a table of CPU models) is reported so that a generic kernel can never go unnoticed.
std::string openblas_status(bool cpu_has_avx2) {
  using corename_fn = char* (*)();
  auto fn = reinterpret_cast<corename_fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!fn) return "not loaded";
  const std::string core = fn();
  const bool generic = core == "Prescott" || core == "Core2" || core == "Penryn" || core == "Dunnington" ||
                       core == "Nehalem" || core == "Atom" || core == "Barcelona" || core == "Opteron" ||
                       core == "Bobcat" || core == "Generic";
  std::string s = fmt::format("loaded by OpenCV, core \"{}\"; no receptive computation calls it", core);
  if (generic && cpu_has_avx2) s += " (its generic kernel: irrelevant here, but do not use it for math)";
  return s;
}
}  // namespace

int info(const InfoArgs& a) {
  const CpuInfo cpu = cpu_info();
  const GemmBackend gemm = gemm_backend();
  const int threads = num_threads();
  fmt::print("CPU            {} ({}, family {} model {}), {} logical CPUs\n", cpu.model_name, cpu.vendor, cpu.family,
             cpu.model, cpu.logical_cpus);
  fmt::print("CPU ISA        {} (from the CPU's feature flags)\n", cpu.isa());
  fmt::print("build ISA      {} (receptive's own kernels)\n", build_isa());
  fmt::print("threads        {} (--threads; one TBB arena, every computing thread is in it)\n", threads);
  fmt::print("GEMM backend   {}, kernel {}{}\n", gemm.name, gemm.kernel,
             gemm.generic ? "  << GENERIC KERNEL: dense math runs far below this CPU's speed" : "");
  fmt::print("convolution    GEMMs on the same backend: Winograd F(2x2,3x3) for 3x3 stride-1 convs with >= 8 input "
             "channels, else shifted taps (unit stride) or im2col\n");
  fmt::print("OpenBLAS       {}\n", openblas_status(cpu.avx2));
  const double peak = fp32_peak_gflops(cpu, threads);
  if (a.probe_seconds > 0) {
    const double probe = gemm_probe_gflops(a.probe_seconds);
    fmt::print("GEMM probe     {:.1f} GFLOP/s (rc::gemm, 512x512x512, {} threads, median over {:g} s)\n", probe,
               threads, a.probe_seconds);
    if (peak > 0)
      fmt::print("fp32 peak      {:.1f} GFLOP/s = {} cores x {:.2f} GHz x {} lanes x 2 (FMA) x 2 FMA units; probe at "
                 "{:.0f} % (clock: {})\n",
                 peak, threads, cpu.mhz / 1000, cpu.fp32_lanes(), 100 * probe / peak, cpu.clock_source);
  } else if (peak > 0) {
    fmt::print("fp32 peak      {:.1f} GFLOP/s = {} cores x {:.2f} GHz x {} lanes x 2 (FMA) x 2 FMA units (clock: {})\n",
               peak, threads, cpu.mhz / 1000, cpu.fp32_lanes(), cpu.clock_source);
  }
  if (peak <= 0) fmt::print("fp32 peak      unknown (no clock in /proc/cpuinfo or cpufreq)\n");
  return gemm.generic && cpu.avx2 ? 4 : 0;
}

}  // namespace rc::cli
