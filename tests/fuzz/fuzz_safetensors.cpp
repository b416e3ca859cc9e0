// safetensors files through load_safetensors (header JSON, dtypes, shapes, offsets) and into a module.
#include "framework/core/error.hpp"
#include "framework/io/safetensors.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = rc::fuzz::write_file(rc::fuzz::scratch() / "w.safetensors",
                                         std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    rc::io::SafetensorsFile f = rc::io::load_safetensors(path.string());
    for (const auto& [name, t] : f.tensors)
      if (t.numel() < 0) __builtin_trap();
  } catch (const rc::Error&) {
  }
  return 0;
}
