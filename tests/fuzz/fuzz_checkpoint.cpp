// fuzz_checkpoint: libFuzzer target for the checkpoint loader. The input is a file's bytes; it is
// read with read_safetensors and load_checkpoint (and, when it carries one, its training state is
// read as resume would). Whatever the bytes, each must succeed or throw spectral::Error with a
// one-line message — no crash, no other exception, no allocation the file's size does not justify.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "train/resume.h"
#include "util/errors.h"

using namespace spectral;

namespace {

void check_one_line(const char* message) {
  if (std::strchr(message, '\n') || std::strchr(message, '\r')) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // an in-memory file with a path, so the real file-reading code runs
  const int fd = memfd_create("checkpoint", 0);
  if (fd < 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    check_one_line(e.what());
  }
  try {
    LoadedCheckpoint ck = load_checkpoint(path);
    if (!ck.train_state.is_null()) read_train_state(ck, path);
  } catch (const Error& e) {
    check_one_line(e.what());
  }
  ::close(fd);
  return 0;
}
