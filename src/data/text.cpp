// text: load_training_text.
#include "data/text.h"

#include "data/utf8.h"
#include "util/files.h"
#include "util/errors.h"

namespace spectral {

TextData load_training_text(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  if (bytes.empty()) throw InputError("data " + path + ": file is empty");
  const std::u32string cps = utf8_decode(bytes, "data " + path);
  TextData d;
  d.vocab = Vocab::from_text(cps, "data " + path);
  d.tokens = d.vocab.encode(cps, OutOfVocab::Error, "data " + path).ids;
  return d;
}

}  // namespace spectral
