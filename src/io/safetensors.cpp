// safetensors: atomic writer and validating reader (F32 data).
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "data/utf8.h"
#include "util/errors.h"

// Floats are written and read as they lie in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");
static_assert(sizeof(float) == 4, "F32 must be 4 bytes");

namespace spectral {

namespace {

using json = nlohmann::json;

// A string for a one-line message: JSON-quoted, control characters escaped, bad UTF-8 replaced.
std::string json_quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// A JSON value for a message: scalars as JSON (cut to 40 characters), containers by type only
// (never dumped: a hostile header may nest a million levels deep).
std::string describe_json(const json& j) {
  if (j.is_structured()) return j.is_array() ? "an array" : "an object";
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}


std::string errno_text(int e) { return std::strerror(e); }

// 4·product(shape) in bytes; false when it does not fit in 64 bits.
bool f32_bytes(const std::vector<uint64_t>& shape, uint64_t* bytes) {
  uint64_t n = 4;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    *bytes = 0;
    return true;
  }
  for (uint64_t d : shape) {
    if (n > UINT64_MAX / d) return false;
    n *= d;
  }
  *bytes = n;
  return true;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// ---------------------------------------------------------------------------------------------
// writing

// Fault injection for the crash tests: SPECTRAL_TEST_KILL_AT="<stage>:<n>" kills the process
// (SIGKILL, as a crash would) when the n-th atomic write of the process reaches <stage>: "open"
// (temp file created, empty), "write" (its first 8 bytes written, the rest not), "fsync" (all
// written and synced, not yet renamed), "rename" (renamed into place, directory not yet synced).
// Unset: one getenv per stage.
void kill_point(const char* stage) {
  static std::map<std::string, int> reached;
  const char* spec = std::getenv("SPECTRAL_TEST_KILL_AT");
  if (!spec) return;
  const std::string s = spec;
  const size_t colon = s.find(':');
  if (s.substr(0, colon) != stage) return;
  const int n = colon == std::string::npos ? 1 : std::atoi(s.c_str() + colon + 1);
  if (++reached[stage] == n) std::raise(SIGKILL);
}

// The temp file of an atomic write: removed on destruction unless commit() renamed it into place.
class TempFile {
 public:
  TempFile(std::string tmp, std::string target) : tmp_(std::move(tmp)), target_(std::move(target)) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(target_ + ": cannot create the temporary file " + tmp_ + ": " + errno_text(errno));
    kill_point("open");
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  void write(const void* data, uint64_t n) {
    if (written_ == 0) n_first_ = n;
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t put = ::write(fd_, p, static_cast<size_t>(std::min<uint64_t>(n, 1u << 30)));
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) fail("writing " + tmp_ + " failed after " + std::to_string(written_) + " bytes", put < 0 ? errno : EIO);
      p += put;
      n -= static_cast<uint64_t>(put);
      written_ += static_cast<uint64_t>(put);
    }
    if (written_ == n_first_) kill_point("write");
  }

  // fsync, close, rename over the target, fsync the directory.
  void commit() {
    if (::fsync(fd_) != 0) fail("fsync of " + tmp_ + " failed", errno);
    kill_point("fsync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("closing " + tmp_ + " failed", errno);
    if (::rename(tmp_.c_str(), target_.c_str()) != 0) fail("renaming " + tmp_ + " over it failed", errno);
    committed_ = true;
    kill_point("rename");
    std::string dir = std::filesystem::path(target_).parent_path().string();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) throw IoError(target_ + ": written, but its directory could not be opened to sync it: " + errno_text(errno));
    const int rc = ::fsync(dfd);
    const int e = errno;
    ::close(dfd);
    // Some file systems cannot sync a directory (EINVAL); the rename is all they offer.
    if (rc != 0 && e != EINVAL && e != ENOTSUP)
      throw IoError(target_ + ": written, but syncing its directory failed: " + errno_text(e));
  }

 private:
  [[noreturn]] void fail(const std::string& what, int e) {
    throw IoError(target_ + ": " + what + ": " + errno_text(e) + " (the previous file, if any, is unchanged)");
  }

  std::string tmp_, target_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0, n_first_ = 0;
};

void check_utf8(const std::string& s, const std::string& where) { utf8_decode(s, where); }

// ---------------------------------------------------------------------------------------------
// reading

class ReadFd {
 public:
  explicit ReadFd(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError(path + ": cannot open for reading: " + errno_text(errno));
  }
  ReadFd(const ReadFd&) = delete;
  ReadFd& operator=(const ReadFd&) = delete;
  ~ReadFd() { ::close(fd_); }
  int fd() const { return fd_; }

  void read_at(void* data, uint64_t n, uint64_t offset) {
    char* p = static_cast<char*>(data);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, static_cast<size_t>(std::min<uint64_t>(n, 1u << 30)), static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw IoError(path_ + ": read failed at byte " + std::to_string(offset) + ": " + errno_text(errno));
      if (got == 0)
        throw IoError(path_ + ": unexpected end of file at byte " + std::to_string(offset) +
                      " (was it truncated while being read?)");
      p += got;
      n -= static_cast<uint64_t>(got);
      offset += static_cast<uint64_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Parses the header, rejecting any JSON object that repeats a key (a plain parse keeps the last).
json parse_header(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  int duplicate_depth = 0;
  const json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() && parsed.is_string()) {
      if (!open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
        duplicate_depth = depth;
      }
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text, cb);
  } catch (const json::exception& e) {
    std::string why = e.what();
    const size_t cut = why.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] "
    if (cut != std::string::npos) why = why.substr(cut + 2);
    throw InputError(path + ": header is not valid JSON: " + printable(why, std::string::npos));
  }
  if (!duplicate.empty())
    throw InputError(path + ": header repeats the key " + json_quoted(duplicate) +
                     (duplicate_depth <= 1 ? " (two tensors with one name)" : " inside one object"));
  return j;
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header["__metadata__"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) {
      check_utf8(k, path + ": metadata key " + json_quoted(k));
      check_utf8(v, path + ": metadata value of " + json_quoted(k));
      m[k] = v;
    }
  }
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::string where = path + ": tensor " + json_quoted(t.name);
    if (t.name.empty()) throw InputError(path + ": a tensor has an empty name");
    if (t.name == "__metadata__") throw InputError(where + ": the name is reserved for the metadata");
    check_utf8(t.name, where);
    if (header.contains(t.name)) throw InputError(where + ": the name is given twice");
    std::vector<uint64_t> shape;
    for (int d : t.shape) {
      if (d < 0) throw InputError(where + ": negative dimension " + std::to_string(d) + " in its shape");
      shape.push_back(static_cast<uint64_t>(d));
    }
    uint64_t bytes = 0;
    if (!f32_bytes(shape, &bytes) || offset > UINT64_MAX - bytes)
      throw InputError(where + ": shape " + shape_text(shape) + " is too large");
    if (bytes > 0 && t.data == nullptr) throw InputError(where + ": data is null");
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    sizes.push_back(bytes);
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts at 8 + h.size(), a multiple of 8

  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = static_cast<unsigned char>(static_cast<uint64_t>(h.size()) >> (8 * i));

  TempFile out(path + ".tmp", path);
  out.write(len8, 8);
  out.write(h.data(), h.size());
  for (size_t i = 0; i < tensors.size(); i++)
    if (sizes[i] > 0) out.write(tensors[i].data, sizes[i]);
  out.commit();
}

SafetensorsFile read_safetensors(const std::string& path, const std::function<bool(const std::string&)>& read_data) {
  auto bad = [&](const std::string& what) { return InputError(path + ": " + what); };
  ReadFd file(path);
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) throw IoError(path + ": cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw bad("is a directory, not a safetensors file");
  if (!S_ISREG(st.st_mode)) throw bad("is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8)
    throw bad("file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length (not a safetensors file?)");

  unsigned char len8[8];
  file.read_at(len8, 8, 0);
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= static_cast<uint64_t>(len8[i]) << (8 * i);
  if (n > kSafetensorsMaxHeader)
    throw bad("header length " + std::to_string(n) + " exceeds the " + std::to_string(kSafetensorsMaxHeader) +
              "-byte limit (not a safetensors file, or corrupt)");
  if (n > size - 8)
    throw bad("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
              " bytes, so at most " + std::to_string(size - 8) + ")");
  std::string text(n, '\0');
  file.read_at(text.data(), n, 8);
  const json header = parse_header(text, path);
  if (!header.is_object()) throw bad("header is " + describe_json(header) + ", not a JSON object");

  const uint64_t data_start = 8 + n, data_size = size - data_start;
  struct Span {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  SafetensorsFile result;

  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw bad("__metadata__ is " + describe_json(info) + ", not an object of strings");
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string())
          throw bad("__metadata__ value of " + json_quoted(k) + " is " + describe_json(v) + ", not a string");
        result.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor " + json_quoted(name);
    if (!info.is_object()) throw bad(t + " is " + describe_json(info) + ", not an object with dtype, shape, data_offsets");
    for (const auto& [k, v] : info.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") throw bad(t + " has an unexpected key " + json_quoted(k));
    for (const char* k : {"dtype", "shape", "data_offsets"})
      if (!info.contains(k)) throw bad(t + " has no \"" + k + "\"");

    const json& dtype = info["dtype"];
    if (!dtype.is_string()) throw bad(t + ": dtype is " + describe_json(dtype) + ", not a string");
    if (dtype.get<std::string>() != "F32")
      throw bad(t + ": dtype " + json_quoted(dtype.get<std::string>()) + " is not supported (only F32)");

    const json& js = info["shape"];
    if (!js.is_array()) throw bad(t + ": shape is " + describe_json(js) + ", not a list of non-negative integers");
    std::vector<uint64_t> shape;
    for (size_t i = 0; i < js.size(); i++) {
      if (!js[i].is_number_unsigned())  // negatives, fractions, strings, nested lists
        throw bad(t + ": shape entry " + std::to_string(i) + " is " + describe_json(js[i]) +
                  ", not a non-negative integer");
      shape.push_back(js[i].get<uint64_t>());
    }
    uint64_t bytes = 0;
    if (!f32_bytes(shape, &bytes)) throw bad(t + ": shape " + shape_text(shape) + " overflows (more than 2^64 bytes)");
    for (uint64_t d : shape)
      if (d > static_cast<uint64_t>(INT_MAX))
        throw bad(t + ": dimension " + std::to_string(d) + " in shape " + shape_text(shape) + " exceeds " +
                  std::to_string(INT_MAX));

    const json& jo = info["data_offsets"];
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      throw bad(t + ": data_offsets must be [begin, end] with non-negative integers" +
                (jo.is_array() && jo.size() != 2 ? " (got " + std::to_string(jo.size()) + " entries)" : ""));
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    const std::string range = "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) throw bad(t + ": data_offsets " + range + " has begin > end");
    if (end > data_size)
      throw bad(t + ": data_offsets " + range + " ends beyond the data section (" + std::to_string(data_size) + " bytes)");
    if (end - begin != bytes)
      throw bad(t + ": data_offsets " + range + " span " + std::to_string(end - begin) + " bytes but shape " +
                shape_text(shape) + " of F32 needs " + std::to_string(bytes));
    auto slot = result.tensors.emplace(name, Tensor{}).first;
    slot->second.shape.assign(shape.begin(), shape.end());
    spans.push_back({begin, end, &slot->first});
  }

  // The tensors must tile [0, data_size) exactly.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t covered = 0;
  const Span* prev = nullptr;
  for (const Span& s : spans) {
    if (s.begin < covered)
      throw bad("tensors " + json_quoted(*prev->name) + " [" + std::to_string(prev->begin) + ", " + std::to_string(prev->end) +
                "] and " + json_quoted(*s.name) + " [" + std::to_string(s.begin) + ", " + std::to_string(s.end) +
                "] overlap in the data section");
    if (s.begin > covered)
      throw bad("bytes [" + std::to_string(covered) + ", " + std::to_string(s.begin) +
                ") of the data section belong to no tensor (before " + json_quoted(*s.name) + ")");
    covered = s.end;
    prev = &s;
  }
  if (covered != data_size)
    throw bad("bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) +
              ") at the end of the data section belong to no tensor");

  for (const Span& s : spans) {
    if (read_data && !read_data(*s.name)) continue;
    Tensor& out = result.tensors[*s.name];
    out.data.resize((s.end - s.begin) / 4);
    file.read_at(out.data.data(), s.end - s.begin, data_start + s.begin);
  }
  return result;
}

}  // namespace spectral
