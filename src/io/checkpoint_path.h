// checkpoint_path: what `--checkpoint PATH` names. A file is itself; a run directory (what
// `spectral train --out DIR` writes) names its best.safetensors, else its last.safetensors (a run
// stopped before its first evaluation has only that one).
#pragma once

#include <string>

namespace spectral {

// The checkpoint file PATH names (as above). When PATH is a directory, *chosen says which file was
// taken and why, for a one-line note on stderr (empty for a file). InputError for a directory that
// holds neither checkpoint.
std::string resolve_checkpoint_path(const std::string& path, std::string* chosen);

}  // namespace spectral
