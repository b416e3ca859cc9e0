// .npy tensor dumps through load_npy (magic, version, header dict, shape, data length).
#include "framework/core/error.hpp"
#include "framework/io/npy.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path =
      rc::fuzz::write_file(rc::fuzz::scratch() / "t.npy", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    rc::Tensor t = rc::io::load_npy(path.string());
    if (t.numel() < 0) __builtin_trap();
  } catch (const rc::Error&) {
  }
  return 0;
}
