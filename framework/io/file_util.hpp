#pragma once
// Small file helpers shared by the weight and tensor-dump formats and the results folder. Errors name the
// operation, the path and the OS's reason (strerror); a failed write never leaves its temporary behind.
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace rc::io {

// The whole file as bytes.
std::string read_file_bytes(const std::string& path, const char* who);

// Writes PATH.tmp.<pid>, fsyncs it, then renames it to PATH, so a crash never leaves a half-written PATH; on any
// failure (disk full, read-only folder) the temporary is removed and the error carries the OS's reason.
void write_bytes_atomic(const std::string& path, const char* who, std::string_view bytes);

// Formats the contents through `write` in memory, then write_bytes_atomic.
void write_file_atomic(const std::string& path, const char* who, const std::function<void(std::ostream&)>& write);

// Appends `bytes` with write(2) and fsync; a failed append is truncated away again (no half line is left).
void append_bytes(const std::string& path, const char* who, std::string_view bytes);

}  // namespace rc::io
