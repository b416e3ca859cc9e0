#pragma once
// Small file helpers shared by the weight and tensor-dump formats. Errors name the operation and the path.
#include <functional>
#include <ostream>
#include <string>

namespace rc::io {

// The whole file as bytes.
std::string read_file_bytes(const std::string& path, const char* who);

// Writes PATH.tmp through `write`, then renames it to PATH, so a crash never leaves a half-written PATH.
void write_file_atomic(const std::string& path, const char* who, const std::function<void(std::ostream&)>& write);

}  // namespace rc::io
