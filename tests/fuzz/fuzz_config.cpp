// fuzz_config: libFuzzer target for the config loader (load_config_json, the mixer registry's
// rules included). The input is a config file's text (read from an in-memory file by
// read_json_file), optionally with lines "--set key=value". Whatever the bytes, the loader must
// either produce a Config or throw ConfigError with a one-line message; and
// a Config it accepted must survive config_to_json → load_config_json unchanged and dump as JSON
// text (what config.json, checkpoints and resume rely on).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config/config.h"
#include "model/mixer_registry.h"

using namespace spectral;

namespace {

void check_one_line(const char* message) {
  if (std::strchr(message, '\n') || std::strchr(message, '\r')) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // split off trailing "--set ..." lines
  std::string text;
  std::vector<std::string> sets;
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string::npos) nl = input.size();
    const std::string line = input.substr(pos, nl - pos);
    if (line.rfind("--set ", 0) == 0)
      sets.push_back(line.substr(6));
    else
      text += line + "\n";
    pos = nl + 1;
  }
  // the text as a file, read by the real reader
  const int fd = memfd_create("config", 0);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    nlohmann::json j = read_json_file(path);
    for (const auto& s : sets) apply_override(j, s);
    const Config c = load_config_json(j);
    const nlohmann::json back = config_to_json(c);
    (void)back.dump();  // config.json and checkpoints hold it as text: must be valid UTF-8
    const Config again = load_config_json(back);  // an accepted config always reloads...
    if (config_to_json(again) != back) std::abort();  // ...to the same values
  } catch (const ConfigError& e) {
    check_one_line(e.what());
  }
  ::close(fd);
  return 0;
}
