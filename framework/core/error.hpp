#pragma once
// Errors: every check throws rc::Error with a message that names the argument and prints the actual values.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace rc {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace rc

// RC_CHECK(cond, "linear: x has {} features but w expects {}", a, b)
#define RC_CHECK(cond, ...)          \
  do {                               \
    if (!(cond)) ::rc::fail(__VA_ARGS__); \
  } while (0)
