#include "framework/core/backend.hpp"

#include <dlfcn.h>
#include <dnnl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"

namespace rc {

namespace {
// "key\t: value" lines of the first processor in /proc/cpuinfo
std::string cpuinfo_field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon);
    k.erase(k.find_last_not_of(" \t") + 1);
    if (k == key) {
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      return v;
    }
  }
  return "";
}

bool has_flag(const std::string& flags, const std::string& flag) {
  return (" " + flags + " ").find(" " + flag + " ") != std::string::npos;
}

std::string read_file(const char* path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

std::string CpuInfo::isa() const {
  if (avx512f) {
    std::string extra;
    if (avx512_bf16) extra += "BF16";
    if (amx) extra += extra.empty() ? "AMX" : ", AMX";
    return extra.empty() ? "AVX-512" : "AVX-512 (" + extra + ")";
  }
  if (avx2) return fma ? "AVX2+FMA" : "AVX2";
  return "SSE";
}

CpuInfo cpu_info() {
  CpuInfo c;
  const std::string text = read_file("/proc/cpuinfo");
  c.vendor = cpuinfo_field(text, "vendor_id");
  c.model_name = cpuinfo_field(text, "model name");
  try {
    c.family = std::stoi(cpuinfo_field(text, "cpu family"));
    c.model = std::stoi(cpuinfo_field(text, "model"));
  } catch (...) {
  }
  // the feature flags the CPU reports (the compiler's cpuid wrapper agrees; AMX is read from the kernel's flags)
  __builtin_cpu_init();
  c.avx2 = __builtin_cpu_supports("avx2");
  c.fma = __builtin_cpu_supports("fma");
  c.avx512f = __builtin_cpu_supports("avx512f");
  const std::string flags = cpuinfo_field(text, "flags");
  c.avx512_bf16 = has_flag(flags, "avx512_bf16");
  c.amx = has_flag(flags, "amx_tile");
  c.logical_cpus = static_cast<int>(std::thread::hardware_concurrency());
  const std::string max_khz = read_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  if (!max_khz.empty()) {
    try {
      c.mhz = std::stod(max_khz) / 1000.0;
      c.clock_source = "cpufreq maximum";
    } catch (...) {
    }
  }
  if (c.mhz <= 0) {
    try {
      c.mhz = std::stod(cpuinfo_field(text, "cpu MHz"));
      c.clock_source = "/proc/cpuinfo cpu MHz: nominal, turbo can exceed it";
    } catch (...) {
    }
  }
  std::smatch m;
  static const std::regex ghz(R"(@\s*([0-9.]+)\s*GHz)");
  if (std::regex_search(c.model_name, m, ghz) && std::stod(m[1]) * 1000.0 > c.mhz) {
    c.mhz = std::stod(m[1]) * 1000.0;
    c.clock_source = "model name: nominal, turbo can exceed it";
  }
  return c;
}

std::string build_isa() {
#if defined(__AVX512F__)
  std::string s = "AVX-512";
#if defined(__AVX512BF16__)
  s += " (BF16)";
#endif
  return s;
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA";
#elif defined(__AVX2__)
  return "AVX2";
#elif defined(__AVX__)
  return "AVX";
#else
  return "SSE2 (generic x86-64)";
#endif
}

GemmBackend gemm_backend() {
  const dnnl_version_t* v = dnnl_version();
  GemmBackend b;
  b.name = fmt::format("oneDNN {}.{}.{} sgemm", v->major, v->minor, v->patch);
  // oneDNN's sgemm runs the JIT kernel of the widest ISA it may use: AVX-512 cores get the avx512_core
  // kernel (AMX and VNNI do not apply to fp32), AVX2 cores the avx2 one, older ones SSE4.1 or reference code
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core_amx: b.kernel = "avx512_core (CPU also has AMX)"; break;
    case dnnl_cpu_isa_avx512_core_bf16: b.kernel = "avx512_core (CPU also has BF16)"; break;
    case dnnl_cpu_isa_avx512_core_vnni: b.kernel = "avx512_core (CPU also has VNNI)"; break;
    case dnnl_cpu_isa_avx512_core: b.kernel = "avx512_core"; break;
    case dnnl_cpu_isa_avx2_vnni: b.kernel = "avx2 (CPU also has AVX-VNNI)"; break;
    case dnnl_cpu_isa_avx2: b.kernel = "avx2"; break;
    case dnnl_cpu_isa_avx: b.kernel = "avx (generic: no FMA)"; break;
    case dnnl_cpu_isa_sse41: b.kernel = "sse41 (generic)"; break;
    default: b.kernel = "reference (generic)"; break;
  }
  b.generic = b.kernel.find("generic") != std::string::npos;
  return b;
}

bool set_backend_threads_on_this_thread(int n) {
  using set_fn = void (*)(int);
  static const auto set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (!set) return false;
  set(n);
  return true;
}

int backend_threads_on_this_thread() {
  using get_fn = int (*)();
  static const auto get = reinterpret_cast<get_fn>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  return get ? get() : -1;
}

double fp32_peak_gflops(const CpuInfo& cpu, int threads) {
  return threads * cpu.mhz * 1e-3 * cpu.fp32_lanes() * 2.0 * 2.0;
}

double gemm_probe_gflops(double seconds) {
  constexpr int64_t n = 512;
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int64_t i = 0; i < n * n; ++i) {  // any non-trivial values; the probe times, it does not check
    a[static_cast<size_t>(i)] = static_cast<float>((i * 7) % 13) * 0.1f - 0.6f;
    b[static_cast<size_t>(i)] = static_cast<float>((i * 5) % 11) * 0.1f - 0.5f;
  }
  auto once = [&] { gemm(Op::N, Op::N, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); };
  once();  // warm-up: JIT kernels, scratch, thread start
  // median of the per-batch rates over about `seconds`
  std::vector<double> rates;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < 4; ++r) once();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(4 * 2.0 * n * n * n / dt * 1e-9);
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

std::string machine_line() {
  const CpuInfo cpu = cpu_info();
  const GemmBackend b = gemm_backend();
  return fmt::format("CPU: {} (family {} model {}, {}) | build ISA: {} | GEMM: {}, kernel {} | threads: {}",
                     cpu.model_name, cpu.family, cpu.model, cpu.isa(), build_isa(), b.name, b.kernel,
                     num_threads());
}

}  // namespace rc
