// files: crash-safe file replacement. The bytes go to "<path>.tmp" in the same directory, are
// flushed and fsync'ed, then renamed over path (and the directory fsync'ed): a crash at any moment
// leaves the old file or the new one, never a torn one. Any failure removes the temp file, leaves
// the old file untouched and throws IoError naming the path and the system's reason.
#pragma once

#include <string>
#include <string_view>

namespace spectral {

void write_file_atomic(const std::string& path, std::string_view bytes);
inline void write_text_file_atomic(const std::string& path, std::string_view text) { write_file_atomic(path, text); }

}  // namespace spectral
