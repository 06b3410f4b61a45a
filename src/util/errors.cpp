// errors: helpers for user-facing error messages.
#include "util/errors.h"

#include <cstdio>

namespace spectral {

std::string printable(const std::string& bytes, size_t max_chars) {
  std::string out;
  char buf[8];
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out.size() > max_chars && max_chars > 3 ? out.substr(0, max_chars - 3) + "..." : out;
}

int exit_code_of(const std::exception& e) {
  if (dynamic_cast<const NumericalError*>(&e)) return 3;
  if (dynamic_cast<const Error*>(&e)) return 2;
  return 1;
}

}  // namespace spectral
