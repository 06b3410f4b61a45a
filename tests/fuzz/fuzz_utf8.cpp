// fuzz_utf8: libFuzzer target for the UTF-8 decoder. Whatever the bytes, utf8_decode either returns
// code points that utf8_encode turns back into exactly the input, or throws InputError with a
// one-line message; what it accepts also builds a vocabulary that encodes and decodes it losslessly.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "data/utf8.h"
#include "data/vocab.h"
#include "util/errors.h"

using namespace spectral;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::u32string text;
  try {
    text = utf8_decode(bytes, "fuzz input");
  } catch (const InputError& e) {
    if (std::strchr(e.what(), '\n') || std::strchr(e.what(), '\r')) std::abort();
    return 0;
  }
  if (utf8_encode(text) != bytes) std::abort();
  for (char32_t cp : text) {
    const std::string d = describe_code_point(cp);
    if (d.find('\n') != std::string::npos || d.find('\r') != std::string::npos) std::abort();
  }
  if (text.empty()) return 0;
  const Vocab vocab = Vocab::from_text(text);
  const Encoded enc = vocab.encode(text);
  if (enc.dropped != 0 || vocab.decode(enc.ids) != bytes) std::abort();
  if (Vocab::from_json_string(vocab.to_json_string()).code_points() != vocab.code_points()) std::abort();
  return 0;
}
