// vocab: building, validating, encoding, decoding and serializing the character vocabulary.
#include "data/vocab.h"

#include <algorithm>
#include <unordered_map>

#include "data/utf8.h"
#include "util/errors.h"

namespace spectral {

namespace {

constexpr size_t kListedUnknown = 5;  // distinct unknown characters named in a message

// A JSON value for a one-line message: scalars as JSON (cut to 40 characters), containers by type.
std::string describe_json(const nlohmann::json& j) {
  if (j.is_structured()) return j.is_array() ? "an array" : "an object";
  std::string s = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

}  // namespace

Vocab Vocab::from_text(std::u32string_view text, std::string_view where) {
  if (text.empty()) throw InputError(std::string(where) + ": cannot build a vocabulary from empty text");
  std::u32string cps(text);
  std::sort(cps.begin(), cps.end());
  cps.erase(std::unique(cps.begin(), cps.end()), cps.end());
  return from_code_points(std::move(cps), where);  // also rejects non-scalar values
}

Vocab Vocab::from_code_points(std::u32string cps, std::string_view where) {
  const std::string w(where);
  if (cps.empty()) throw InputError(w + ": the vocabulary is empty");
  for (size_t i = 0; i < cps.size(); i++) {
    if (!is_scalar_value(cps[i]))
      throw InputError(w + ": entry " + std::to_string(i) + " is " + describe_code_point(cps[i]) + ", " +
                       (cps[i] > 0x10FFFF ? "above U+10FFFF" : "a UTF-16 surrogate") +
                       ", not a Unicode scalar value");
    if (i > 0 && cps[i] == cps[i - 1])
      throw InputError(w + ": entry " + std::to_string(i) + " repeats " + describe_code_point(cps[i]) +
                       " (code points must be distinct)");
    if (i > 0 && cps[i] < cps[i - 1])
      throw InputError(w + ": entry " + std::to_string(i) + " " + describe_code_point(cps[i]) +
                       " comes after entry " + std::to_string(i - 1) + " " + describe_code_point(cps[i - 1]) +
                       " (code points must be sorted in increasing order)");
  }
  return Vocab(std::move(cps));
}

nlohmann::json Vocab::to_json() const {
  nlohmann::json a = nlohmann::json::array();
  for (char32_t cp : cps_) a.push_back(static_cast<uint32_t>(cp));
  return a;
}

std::string Vocab::to_json_string() const { return to_json().dump(); }

Vocab Vocab::from_json(const nlohmann::json& j, std::string_view where) {
  const std::string w(where);
  if (!j.is_array()) throw InputError(w + ": expected a JSON array of code points, got " + describe_json(j));
  std::u32string cps;
  cps.reserve(j.size());
  for (size_t i = 0; i < j.size(); i++) {
    const auto& e = j[i];
    // Non-negative integers parse as number_unsigned; negatives, fractions, strings are rejected.
    if (!e.is_number_unsigned())
      throw InputError(w + ": entry " + std::to_string(i) + " is " + describe_json(e) +
                       ", not a code point (a non-negative integer)");
    const uint64_t v = e.get<uint64_t>();
    if (v > 0x10FFFF)
      throw InputError(w + ": entry " + std::to_string(i) + " is " + std::to_string(v) +
                       ", above U+10FFFF, not a Unicode scalar value");
    cps.push_back(static_cast<char32_t>(v));
  }
  return from_code_points(std::move(cps), where);
}

Vocab Vocab::from_json_string(std::string_view text, std::string_view where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(std::string(where) + ": not valid JSON (error at byte " + std::to_string(e.byte) +
                     "); expected an array of code points");
  } catch (const nlohmann::json::exception&) {  // a number too large for a double
    throw InputError(std::string(where) + ": not valid JSON (a number out of range); expected an array of code points");
  }
  return from_json(j, where);
}

int32_t Vocab::id_of(char32_t cp) const {
  auto it = std::lower_bound(cps_.begin(), cps_.end(), cp);
  if (it == cps_.end() || *it != cp) return -1;
  return static_cast<int32_t>(it - cps_.begin());
}

char32_t Vocab::code_point(int32_t id) const {
  if (id < 0 || id >= size())
    throw InputError("token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(size()) + ")");
  return cps_[static_cast<size_t>(id)];
}

Encoded Vocab::encode(std::u32string_view text, OutOfVocab policy, std::string_view where) const {
  Encoded out;
  out.ids.reserve(text.size());
  // Unknown characters in order of first appearance, with that position; then occurrence count.
  std::vector<std::pair<char32_t, size_t>> unknown;
  std::unordered_map<char32_t, size_t> seen;
  size_t occurrences = 0;
  for (size_t i = 0; i < text.size(); i++) {
    const int32_t id = id_of(text[i]);
    if (id >= 0) {
      out.ids.push_back(id);
      continue;
    }
    occurrences++;
    if (seen.emplace(text[i], i).second) unknown.emplace_back(text[i], i);
  }
  if (occurrences == 0) return out;

  std::string list;
  for (size_t k = 0; k < unknown.size() && k < kListedUnknown; k++)
    list += (k ? ", " : "") + describe_code_point(unknown[k].first) + " at position " + std::to_string(unknown[k].second);
  if (unknown.size() > kListedUnknown) list += " and " + std::to_string(unknown.size() - kListedUnknown) + " more";
  const std::string counts = " (" + std::to_string(unknown.size()) + " distinct, " + std::to_string(occurrences) +
                             (occurrences == 1 ? " occurrence)" : " occurrences)");

  if (policy == OutOfVocab::Error)
    throw InputError(std::string(where) + ": characters not in the model's vocabulary: " + list + counts);
  out.dropped = occurrences;
  out.dropped_summary = std::string(where) + ": dropped " + std::to_string(occurrences) +
                        (occurrences == 1 ? " character" : " characters") +
                        " not in the model's vocabulary: " + list + counts;
  return out;
}

std::string Vocab::decode(const int32_t* ids, size_t n) const {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= size())
      throw InputError("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                       " is outside the vocabulary [0, " + std::to_string(size()) + ")");
    utf8_append(out, cps_[static_cast<size_t>(ids[i])]);
  }
  return out;
}

}  // namespace spectral
