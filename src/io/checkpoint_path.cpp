// checkpoint_path: a --checkpoint that is a run directory.
#include "io/checkpoint_path.h"

#include <filesystem>

#include "util/errors.h"

namespace spectral {

std::string resolve_checkpoint_path(const std::string& path, std::string* chosen) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (chosen) chosen->clear();
  if (!fs::is_directory(path, ec)) return path;
  const std::string dir = (path.size() > 1 && path.back() == '/') ? path.substr(0, path.size() - 1) : path;
  const std::string best = dir + "/best.safetensors", last = dir + "/last.safetensors";
  if (fs::exists(best, ec)) {
    if (chosen) *chosen = "using " + best + " (the run's lowest validation loss)";
    return best;
  }
  if (fs::exists(last, ec)) {
    if (chosen) *chosen = "using " + last + " (the run has no best.safetensors yet: it stopped before its first evaluation)";
    return last;
  }
  throw InputError("--checkpoint " + path + ": is a directory without best.safetensors or last.safetensors (give a "
                   "checkpoint file, or the --out directory of spectral train)");
}

}  // namespace spectral
