// text: a UTF-8 text file turned into the vocabulary and token stream a run trains on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/vocab.h"

namespace spectral {

struct TextData {
  Vocab vocab;                  // sorted distinct code points of the text
  std::vector<int32_t> tokens;  // the text as vocabulary ids
};

// Reads path, decodes UTF-8 (errors give the byte offset), builds the vocabulary and encodes.
// An empty file is an InputError.
TextData load_training_text(const std::string& path);

}  // namespace spectral
