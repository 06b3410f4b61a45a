// safetensors: the checkpoint container. An 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {string: string}, "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}
// then the raw little-endian data, offsets relative to the start of the data section. Only F32
// data (all the engine writes). Writes are atomic: a crash leaves the old file or the new one.
// Reads trust nothing: every field is checked and a bad file is an InputError, never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace spectral {

// The reader refuses headers longer than this (as the reference implementation does).
constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

// One tensor to write: `data` points at product(shape) floats (may be null when that is 0).
struct TensorRef {
  std::string name;
  std::vector<int> shape;
  const float* data = nullptr;
};

struct Tensor {
  std::vector<int> shape;  // [] is a scalar (one element)
  std::vector<float> data;
};

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"; empty when absent
};

// Writes `tensors` (data in the given order, contiguous) and `metadata` to `path`. The header is
// padded with spaces so the data starts at an 8-byte-aligned offset. Atomic: writes
// path + ".tmp", fsyncs it, renames it over `path`, fsyncs the directory. On failure the temp
// file is removed, an existing `path` is untouched, and IoError says which step failed and why.
// Bad arguments (duplicate or reserved names, negative dimensions, strings that are not UTF-8)
// throw InputError before anything is written.
void write_safetensors(const std::string& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata);

// Reads and validates a whole file: header length (≤ kSafetensorsMaxHeader and within the file),
// JSON object with unique keys, each tensor's dtype (F32), shape (non-negative integers, no
// overflow), data_offsets ([begin, end], begin ≤ end, inside the data section, end − begin =
// 4·product(shape)); the tensors must tile the data section exactly (no overlap, gap or trailing
// bytes, as the reference implementation requires); metadata must map strings to strings.
// Errors name the path and the tensor or key: InputError for bad contents, IoError when the file
// cannot be opened or read. read_data(name) false: that tensor's header is checked like every other,
// but its data is not read (its data stays empty).
SafetensorsFile read_safetensors(const std::string& path,
                                 const std::function<bool(const std::string&)>& read_data = nullptr);

}  // namespace spectral
