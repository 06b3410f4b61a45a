// vocab: the character vocabulary — the sorted set of distinct code points of the training text;
// a character's token id is its index in that set. Encoding text with characters outside the set
// either throws (default) or drops them and reports what was dropped. Stored in checkpoint
// metadata as a JSON array of code points, validated on load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spectral {

// What encode does with a character the vocabulary lacks.
enum class OutOfVocab {
  Error,  // throw InputError naming the characters (default)
  Skip,   // drop them; Encoded::dropped and dropped_summary say what went, for a warning
};

struct Encoded {
  std::vector<int32_t> ids;
  size_t dropped = 0;           // characters dropped under OutOfVocab::Skip (occurrences, not distinct)
  std::string dropped_summary;  // e.g. "dropped 3 characters not in the model's vocabulary: ..."; empty if none
};

class Vocab {
 public:
  Vocab() = default;  // empty; only useful as a placeholder to assign to

  // The distinct code points of `text`, sorted. Empty text throws InputError.
  static Vocab from_text(std::u32string_view text, std::string_view where = "text");
  // From a list that must already be a vocabulary: non-empty, scalar values, strictly increasing.
  static Vocab from_code_points(std::u32string code_points, std::string_view where = "vocabulary");

  // Checkpoint form: a JSON array of code points, e.g. [10,32,33,...]. from_json validates as
  // from_code_points and throws InputError naming `where` and the offending entry.
  nlohmann::json to_json() const;
  static Vocab from_json(const nlohmann::json& j, std::string_view where = "vocabulary");
  // The same as JSON text (for safetensors metadata, which holds strings only).
  std::string to_json_string() const;
  static Vocab from_json_string(std::string_view text, std::string_view where = "vocabulary");

  int32_t size() const { return static_cast<int32_t>(cps_.size()); }
  bool empty() const { return cps_.empty(); }
  const std::u32string& code_points() const { return cps_; }
  // The id of a code point, or -1 when it is not in the vocabulary.
  int32_t id_of(char32_t cp) const;
  // The code point of an id; throws InputError when the id is out of range.
  char32_t code_point(int32_t id) const;

  // Token ids of `text`. Under OutOfVocab::Error, unknown characters throw InputError:
  //   "prompt: characters not in the model's vocabulary: "Z" (U+005A) at position 3, ..."
  // listing each distinct one once with its first position (a code-point index from 0), at most
  // five, then "and N more", then the total count. `where` names the text.
  Encoded encode(std::u32string_view text, OutOfVocab policy = OutOfVocab::Error,
                 std::string_view where = "text") const;

  // UTF-8 text of token ids; an id outside [0, size) throws InputError naming it and its position.
  std::string decode(const int32_t* ids, size_t n) const;
  std::string decode(const std::vector<int32_t>& ids) const { return decode(ids.data(), ids.size()); }

 private:
  explicit Vocab(std::u32string cps) : cps_(std::move(cps)) {}
  std::u32string cps_;  // strictly increasing scalar values
};

}  // namespace spectral
