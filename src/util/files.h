// files: reading a whole file (or standard input), checking an output path early, and crash-safe
// file replacement.
#pragma once

#include <string>
#include <string_view>

namespace spectral {

// The whole file as bytes. Throws IoError naming the path and the reason (missing, a directory,
// unreadable).
std::string read_file_bytes(const std::string& path);
// read_file_bytes, except that "-" reads standard input to its end.
std::string read_input_bytes(const std::string& path);

// Checks, before any work, that an output file can be created at path: its directory exists and is
// writable, and path is not a directory. "-" (standard output) always passes. Throws IoError
// starting with `what` (e.g. "--per-char x.csv") and saying why not.
void check_output_file(const std::string& path, const std::string& what);

// Replaces path with bytes: they go to "<path>.tmp" in the same directory, are flushed and
// fsync'ed, then renamed over path (and the directory fsync'ed): a crash at any moment leaves the
// old file or the new one, never a torn one. Any failure removes the temp file, leaves the old
// file untouched and throws IoError naming the path and the system's reason.
void write_file_atomic(const std::string& path, std::string_view bytes);
inline void write_text_file_atomic(const std::string& path, std::string_view text) { write_file_atomic(path, text); }

}  // namespace spectral
