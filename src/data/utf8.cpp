// utf8: strict decoder, encoder, code-point descriptions.
#include "data/utf8.h"


#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/errors.h"

namespace spectral {

bool is_scalar_value(char32_t cp) { return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF); }

namespace {

std::string hex_bytes(const unsigned char* p, size_t n) {
  std::string s;
  char buf[8];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(buf, sizeof buf, "%s0x%02X", i ? " " : "", p[i]);
    s += buf;
  }
  return s;
}

std::string u_plus(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

[[noreturn]] void bad_utf8(std::string_view where, std::string_view bytes, size_t at, const std::string& what) {
  const size_t line = 1 + static_cast<size_t>(std::count(bytes.begin(), bytes.begin() + at, '\n'));
  throw InputError(std::string(where) + ": invalid UTF-8 at byte " + std::to_string(at) + " (line " +
                   std::to_string(line) + "): " + what);
}

}  // namespace

std::u32string utf8_decode(std::string_view bytes, std::string_view where) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  std::u32string out;
  out.reserve(n);
  size_t i = 0;
  while (i < n) {
    const unsigned char b0 = s[i];
    if (b0 < 0x80) {
      out.push_back(b0);
      i++;
      continue;
    }
    // Table 3-7: the lead byte fixes the length and the allowed range of the second byte.
    size_t len = 0;
    char32_t cp = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 < 0xC0) {
      bad_utf8(where, bytes, i, "unexpected continuation byte " + hex_bytes(s + i, 1) + " (not inside a multi-byte sequence)");
    } else if (b0 < 0xC2) {
      bad_utf8(where, bytes, i, "overlong 2-byte encoding (lead byte " + hex_bytes(s + i, 1) + ")");
    } else if (b0 < 0xE0) {
      len = 2, cp = b0 & 0x1F;
    } else if (b0 < 0xF0) {
      len = 3, cp = b0 & 0x0F;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 < 0xF5) {
      len = 4, cp = b0 & 0x07;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      bad_utf8(where, bytes, i,
               "byte " + hex_bytes(s + i, 1) + " never appears in UTF-8" +
                   (b0 < 0xF8 ? " (it would start a code point above U+10FFFF)" : ""));
    }
    for (size_t k = 1; k < len; k++) {
      if (i + k >= n)
        bad_utf8(where, bytes, i,
                 "truncated sequence: lead byte " + hex_bytes(s + i, 1) + " needs " + std::to_string(len) +
                     " bytes but the input ends after " + std::to_string(k));
      const unsigned char b = s[i + k];
      if (b < 0x80 || b > 0xBF)
        bad_utf8(where, bytes, i,
                 "truncated sequence: lead byte " + hex_bytes(s + i, 1) + " needs " + std::to_string(len) +
                     " bytes but byte " + std::to_string(i + k) + " (" + hex_bytes(s + i + k, 1) +
                     ") is not a continuation byte");
      if (k == 1 && (b < lo || b > hi)) {
        const std::string seq = " (" + hex_bytes(s + i, 2) + ")";
        if (b0 == 0xED) bad_utf8(where, bytes, i, "encodes a UTF-16 surrogate (U+D800..U+DFFF)" + seq);
        if (b0 == 0xF4) bad_utf8(where, bytes, i, "encodes a code point above U+10FFFF" + seq);
        bad_utf8(where, bytes, i, "overlong " + std::to_string(len) + "-byte encoding" + seq);
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void utf8_append(std::string& out, char32_t cp) {
  if (!is_scalar_value(cp))
    throw InputError("cannot encode " + u_plus(cp) + " as UTF-8: " +
                     (cp > 0x10FFFF ? "above U+10FFFF" : "a UTF-16 surrogate"));
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); i++) {
    if (!is_scalar_value(text[i]))
      throw InputError("cannot encode " + u_plus(text[i]) + " at position " + std::to_string(i) + " as UTF-8: " +
                       (text[i] > 0x10FFFF ? "above U+10FFFF" : "a UTF-16 surrogate"));
    utf8_append(out, text[i]);
  }
  return out;
}

std::string describe_code_point(char32_t cp) {
  const std::string num = u_plus(cp);
  switch (cp) {
    case '\n': return "\"\\n\" (" + num + ")";
    case '\r': return "\"\\r\" (" + num + ")";
    case '\t': return "\"\\t\" (" + num + ")";
    case '"': return "\"\\\"\" (" + num + ")";
    case '\\': return "\"\\\\\" (" + num + ")";
    default: break;
  }
  // Control characters (C0, DEL, C1), line/paragraph separators and non-scalars: number only.
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 || cp == 0x2029 || !is_scalar_value(cp)) return num;
  std::string s = "\"";
  utf8_append(s, cp);
  return s + "\" (" + num + ")";
}


}  // namespace spectral
